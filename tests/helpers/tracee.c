/* SPDX-License-Identifier: MIT */
/*
 * tracee: a known program for dtrace's pid provider and ustack() tests.
 * main calls middle() N times, middle calls leaf(); both are kept out of
 * line and built with frame pointers so that user stacks unwind. leaf(3)
 * makes a getppid system call itself (no libc wrapper without a frame in
 * between), so a syscall probe's ustack() is leaf, middle, main. It
 * sleeps MS milliseconds before it exits (so that its maps can still be
 * read), then prints the sum, which the tests check against arg1 of
 * leaf's return.
 *
 *   tracee [N [MS]]
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

__attribute__((noinline)) int leaf(int x);
__attribute__((noinline)) int middle(int x);

__attribute__((noinline)) int
leaf(int x)
{
	if (x == 3) {
#ifdef __x86_64__
		long r;

		__asm__ volatile("syscall" : "=a"(r) : "a"(SYS_getppid) : "rcx", "r11", "memory");
#else
		(void)getppid();
#endif
	}
	__asm__ volatile("" ::: "memory");
	return 2 * x + 1;
}

__attribute__((noinline)) int
middle(int x)
{
	return leaf(x) + 1;
}

int
main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100, ms = argc > 2 ? atoi(argv[2]) : 0;
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
	long sum = 0;

	for (int i = 0; i < n; i++)
		sum += middle(i);
	nanosleep(&ts, NULL);
	printf("%ld\n", sum);
	return 0;
}
