# Several GB allocated, a few hundred MB live at a time: rounds of building
# and folding attribute sets and lists, so collections run under any
# collector (the first ones fill the heap Nix pre-grows to 384 MiB).
let
  round = r:
    let
      xs = builtins.genList (i: { name = "r${toString r}k${toString i}"; value = { v = i + r; s = toString (i * r); }; }) 150000;
      attrs = builtins.listToAttrs xs;
      total = builtins.foldl' (a: b: a + b.v + builtins.stringLength b.s) 0 (builtins.attrValues attrs);
      l = builtins.genList (i: [ i (i * 2) "x${toString i}" ]) 100000;
      lsum = builtins.foldl' (a: e: a + builtins.elemAt e 1) 0 l;
    in total + lsum;
  rounds = builtins.genList (r: round r) 12;
  live = builtins.genList (i: { k = i; s = "live${toString i}"; }) 200000;
in { results = rounds; livecount = builtins.length (builtins.filter (x: x.k > 5) live); fib = let f = k: if k < 2 then k else f (k - 1) + f (k - 2); in f 25; }
