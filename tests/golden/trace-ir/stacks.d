profile-97
{
	@[stack()] = count();
	@u[ustack()] = count();
}
