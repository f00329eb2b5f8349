syscall::read:entry /probefunc < "read"/ { }
