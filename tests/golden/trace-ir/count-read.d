syscall::read:entry /execname == "cat"/ { @[execname] = count(); }
