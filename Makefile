# strata: build, demo, test, bench, lint, install.
# Binaries are static (crt-static): the probe must run in a libc-less
# busybox rootfs, and strata itself ships as one self-contained file.
# pack-relative-relocs: the static-pie start-up relocations as RELR, 2 KiB
# instead of 94 KiB of .rela.dyn (a smaller binary, fewer pages read).

TARGET   := x86_64-unknown-linux-gnu
OUT      := target/$(TARGET)/release
STRATA   := $(OUT)/strata
CARGO    ?= cargo
STATIC   := RUSTFLAGS='-C target-feature=+crt-static -C link-arg=-Wl,-z,pack-relative-relocs'
PREFIX   ?= /usr/local
RUNC     ?= $(shell command -v runc 2>/dev/null || ls /usr/sbin/runc 2>/dev/null)
DEMO_DIR ?= /tmp/strata-demo
# The OCI conformance suite (runtime-tools): its source beside the repo in CI, built once into
# CONFORMANCE_SUITE. The floor is the number of files strata must pass at least; raise it here
# when a fix makes strata pass more (and add the file to hack/conformance-pass.txt).
CONFORMANCE_SRC   ?= ../shared/conformance
CONFORMANCE_SUITE ?= /tmp/oci-validation
CONFORMANCE_FLOOR := 30

.PHONY: test-systemd test-systemd-smoke test-systemd-user test-systemd-engines build-cri conformance integration bench-layers bench-hyperfine bench-hangs bench-systemd test-cgroupv2 test-cgroupv2-smoke test-cgroupv1 test-apparmor test-apparmor-smoke test-selinux test-criu test-criu-smoke build build-tests demo test unit-test runtime-tests lint bench install clean

build:
	$(STATIC) $(CARGO) build --release --target $(TARGET) -p strata

build-tests:
	$(STATIC) $(CARGO) build --release --target $(TARGET) -p runtime-tests --bins

# Builds strata, makes a busybox bundle and runs one container from it.
demo: build
	bash hack/mkbundle.sh $(DEMO_DIR) --runtime $(STRATA) -- sh -c 'echo "hello from a strata container: $$(hostname), pid $$$$, uid $$(id -u)"; ls /'
	$(STRATA) --root $(DEMO_DIR)/state run --bundle $(DEMO_DIR) demo-$$$$

unit-test:
	$(CARGO) test --release --workspace

# The conformance suite against strata, then against runc (the reference:
# a test that runc fails is a wrong test unless it says why).
runtime-tests: build build-tests
	$(OUT)/runtime-tests --runtime $(abspath $(STRATA)) --probe $(abspath $(OUT)/probe)
	@if [ -n "$(RUNC)" ]; then $(OUT)/runtime-tests --runtime $(RUNC) --probe $(abspath $(OUT)/probe); \
	else echo "runc not installed: reference run skipped"; fi

# The OCI runtime-tools validation files against strata, then runc (for reference only: its
# result never fails the target); fails below the floor or on a file of hack/conformance-pass.txt.
conformance: build
	bash hack/conformance.sh --src $(CONFORMANCE_SRC) --suite $(CONFORMANCE_SUITE) \
	  --floor $(CONFORMANCE_FLOOR) --expect hack/conformance-pass.txt --out target/conformance \
	  --runtime $(abspath $(STRATA)) $(if $(RUNC),--reference $(RUNC))

# podman and containerd (Debian's) driving strata, then runc (proves the checks).
# The test-only CRI client (tonic, tokio): its own workspace, never linked into strata.
build-cri:
	cd runtime-tests/cri-client && $(CARGO) build --release --locked

integration: build build-tests build-cri
	bash hack/integration.sh --runtime $(abspath $(STRATA))
	@if [ -n "$(RUNC)" ]; then bash hack/integration.sh --runtime $(RUNC); fi

test: lint unit-test runtime-tests conformance integration test-cgroupv2-smoke test-apparmor-smoke test-systemd-smoke test-criu-smoke

# The cgroup, lifecycle, devices, resources and security groups on a pure cgroup v2
# host: a virtme-ng VM under software emulation (hack/deps.sh vm installs it),
# strata then runc. The VM is killed (and the target fails) after --timeout s.
test-cgroupv2: build build-tests
	bash hack/cgroupv2-vm.sh --memory 2G --timeout 1500 -- bash hack/cgroupv2-tests.sh \
	  --runtime $(abspath $(STRATA)) $(if $(RUNC),--runtime $(RUNC))

# CI's v2 subset, strata only (docs/cgroups.md): create with limits, the eBPF
# device filter, pause/resume, OOM events, delete leaving nothing.
test-cgroupv2-smoke: build build-tests
	bash hack/cgroupv2-vm.sh --memory 1G --timeout 600 -- bash hack/cgroupv2-tests.sh --smoke

# The systemd cgroup driver (--systemd-cgroup) on a systemd host: the same VM booting systemd
# (vng --systemd), the cgroup, lifecycle, devices, resources, pause and exec groups with systemd
# cgroupsPaths, then no unit and no cgroup left (hack/systemd-tests.sh), strata then runc. Not in
# CI: ~25 min under emulation. The smoke target (in `make test`, ~3 min): strata only, a few groups.
test-systemd: build build-tests
	bash hack/cgroupv2-vm.sh --systemd --memory 2G --timeout 1500 -- bash hack/systemd-tests.sh \
	  --runtime $(abspath $(STRATA)) $(if $(RUNC),--runtime $(RUNC))

# Rootless containers with --systemd-cgroup: their units in a user manager (systemd --user), in the
# same guest, strata then runc (hack/systemd-user-tests.sh).
test-systemd-user: build
	bash hack/cgroupv2-vm.sh --systemd --memory 1G --timeout 1500 -- bash hack/systemd-tests.sh \
	  --user --runtime $(abspath $(STRATA)) $(if $(RUNC),--runtime $(RUNC))

# podman, containerd (ctr, CRI) and Docker with their systemd cgroup managers, in the same guest
# (hack/integration.sh --systemd), strata then runc. Not in CI: ~25 min per runtime under emulation.
test-systemd-engines: build build-tests build-cri
	bash hack/cgroupv2-vm.sh --systemd --memory 2G --timeout 3600 -- bash hack/systemd-tests.sh --engines \
	  --runtime $(abspath $(STRATA)) $(if $(RUNC),--runtime $(RUNC))

test-systemd-smoke: build build-tests
	bash hack/cgroupv2-vm.sh --systemd --memory 1G --timeout 900 -- bash hack/systemd-tests.sh --smoke \
	  --runtime $(abspath $(STRATA))

# The cgroup, lifecycle, devices, resources and pause groups on a pure cgroup v1
# host (the same VM, v1 hierarchies mounted by the guest script), strata then runc.
test-cgroupv1: build build-tests
	bash hack/cgroupv2-vm.sh --v1 --memory 2G --timeout 1500 -- bash hack/cgroupv1-tests.sh \
	  --runtime $(abspath $(STRATA)) $(if $(RUNC),--runtime $(RUNC))

# AppArmor (Debian's kernel enables it): the lsm and config_misc groups, the conformance file
# linux_process_apparmor_profile, dockerd's docker-default and podman's containers-default, a
# named profile and unconfined, in the same VM (hack/apparmor-tests.sh), strata then runc.
test-apparmor: build build-tests
	bash hack/cgroupv2-vm.sh --memory 2G --timeout 1500 -- bash hack/apparmor-tests.sh \
	  --runtime $(abspath $(STRATA)) $(if $(RUNC),--runtime $(RUNC))

# CI's AppArmor subset, strata only: the lsm group (about 1 min; part of `make test`).
test-apparmor-smoke: build build-tests
	bash hack/cgroupv2-vm.sh --memory 1G --timeout 400 -- bash hack/apparmor-tests.sh --smoke

# CRIU checkpoint/restore (hack/criu-tests.sh) in the 6.1 VM, strata then runc: CRIU 3.17 cannot run
# on the 6.18 host. ~6 min under emulation; the smoke (strata alone, ~3 min) is in `make test`.
test-criu: build
	bash hack/cgroupv2-vm.sh --memory 2G --timeout 1800 -- bash hack/criu-tests.sh --full \
	  --runtime $(abspath $(STRATA)) $(if $(RUNC),--runtime $(RUNC))

test-criu-smoke: build
	bash hack/cgroupv2-vm.sh --memory 1G --timeout 900 -- bash hack/criu-tests.sh --runtime $(abspath $(STRATA))

# SELinux (selinux-policy-default with podman's two types, built on the host; permissive: the
# guest's files are unlabelled 9p): selinuxLabel, exec --process-label, mountLabel and the keyring
# label; one run enforcing on a rootfs labelled for its domain; podman's default labels and
# label= options (hack/selinux-tests.sh), strata then runc.
test-selinux: build build-tests
	bash hack/selinux-container-policy.sh target/selinux
	bash hack/cgroupv2-vm.sh --memory 1G --timeout 900 --append "selinux=1 security=selinux enforcing=0" \
	  -- bash hack/selinux-tests.sh --policy target/selinux/policy.33 \
	  --runtime $(abspath $(STRATA)) $(if $(RUNC),--runtime $(RUNC))

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --release --workspace --all-targets -- -D warnings

# The start-up benchmark (~15 min): interleaved A/B pairs, median of per-pair ratios, the CRI rows
# (containerd, the test-only CRI client) and the hang loops, to target/bench/interleaved.md (paste
# it into docs/benchmarks.md). bench-hyperfine: the older hyperfine suite (distributions,
# percentiles, the latency plot; ~10 min).
bench: build build-cri
	python3 hack/bench-interleaved.py --markdown target/bench/interleaved.md

# The hang loops alone (HANG_RUNS=10000 foreground runs of strata, plain and terminal; peers 1000).
bench-hangs: build
	python3 hack/bench-interleaved.py --only hangs --markdown target/bench/hangs.md

# The systemd driver row: create + delete with --systemd-cgroup, strata against runc, interleaved,
# in the systemd guest (TCG: only the ratio means anything; ~10 min for 41 pairs, ~6 of it the boot).
bench-systemd: build
	bash hack/cgroupv2-vm.sh --systemd --memory 1G --timeout 3000 -- env PAIRS=$(or $(PAIRS),41) SEED=$(or $(SEED),1) \
	  HOST_LOAD="$$(cut -d' ' -f1-3 /proc/loadavg)" \
	  python3 hack/bench-interleaved.py --only systemd --markdown target/bench/systemd.md

bench-hyperfine: build
	bash hack/bench.sh --markdown target/bench/results.md --plot docs/benchmarks-latency.png

# Layered (5 shared layers) vs plain rootfs; 20 containers on one image vs 20 copies.
bench-layers: build
	bash hack/bench-layers.sh

install: build
	install -D -m 0755 $(STRATA) $(DESTDIR)$(PREFIX)/bin/strata

clean:
	$(CARGO) clean
