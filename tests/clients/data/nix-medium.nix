# About 330 MB of allocation: attribute sets, strings, a sort, recursion.
let
  n = 400000;
  xs = builtins.genList (i: { name = "k${toString i}"; value = i * 2; }) n;
  attrs = builtins.listToAttrs xs;
  sum = builtins.foldl' (a: b: a + b) 0 (builtins.attrValues attrs);
  strs = builtins.concatStringsSep "," (map toString (builtins.genList (i: i) 300000));
  fib = k: if k < 2 then k else fib (k - 1) + fib (k - 2);
  sorted = builtins.sort (a: b: a < b) (builtins.genList (i: (i * 7919) - (i / 1000) * 7919000) 100000);
in { inherit sum; len = builtins.stringLength strs; cnt = builtins.length (builtins.attrNames attrs); f = fib 24; s = builtins.elemAt sorted 500; }
