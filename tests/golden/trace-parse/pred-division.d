syscall::read:entry
/arg2 / 2 > 100/
{
	@[probefunc, arg2 % 3] = count();
}
