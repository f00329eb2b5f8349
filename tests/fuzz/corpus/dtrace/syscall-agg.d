syscall::read:entry, syscall::write:entry
/pid == $target && execname != "sh"/
{
	@bytes[execname, probefunc] = sum(arg2);
	@n = count();
}
