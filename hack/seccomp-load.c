// The kernel's own cost of installing a seccomp program, without any runtime: N times fork a child
// that exits at once, then N times one that loads the program and exits. FILE is a strata cache
// file (<root>/.seccomp-cache/*.bpf: the cBPF instructions, then a 32-byte checksum). Used for
// the seccomp section of docs/benchmarks.md (the kernel's share of the profile's cost).
//   gcc -O2 -o /tmp/seccomp-load hack/seccomp-load.c && /tmp/seccomp-load FILE.bpf 2000
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }

int main(int argc, char **argv) {
  static char buf[1 << 20];
  if (argc != 3) { fprintf(stderr, "usage: %s FILE.bpf N\n", argv[0]); return 2; }
  int fd = open(argv[1], O_RDONLY), n = fd < 0 ? -1 : (int)read(fd, buf, sizeof buf) - 32, runs = atoi(argv[2]);
  if (n <= 0 || n % 8 || runs <= 0) { fprintf(stderr, "%s: not a cache file, or bad N\n", argv[1]); return 2; }
  struct sock_fprog prog = {.len = n / 8, .filter = (struct sock_filter *)buf};
  for (int load = 0; load < 2; load++) {
    double best = 1e9, total = 0;
    for (int i = 0; i < runs; i++) {
      double t0 = now();
      pid_t c = fork();
      if (c == 0) {
        if (load && (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))) _exit(9);
        _exit(0);
      }
      int st;
      if (c < 0 || waitpid(c, &st, 0) < 0 || st) { fprintf(stderr, "child failed (status %d)\n", st); return 1; }
      double d = now() - t0;
      total += d;
      if (d < best) best = d;
    }
    printf("%s: %d instructions, fork+exit mean %.1f us, min %.1f us\n", load ? "with the program" : "without", n / 8, total / runs * 1e6, best * 1e6);
  }
  return 0;
}
