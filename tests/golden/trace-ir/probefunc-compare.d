syscall::read*:entry, syscall::write:entry
/probefunc == "write" || probename != "entry"/
{
	@[probefunc] = count();
}
