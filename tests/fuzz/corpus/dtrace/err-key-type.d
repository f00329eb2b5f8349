BEGIN { x = "a"; @[x] = count(); @[1] = count(); }
