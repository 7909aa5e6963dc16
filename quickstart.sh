#!/bin/sh
# Quick start on Debian 12: install what is missing, build ray-mpi, and run the
# Monte Carlo pi example on 4 ranks under mpirun.
#   ./quickstart.sh              everything
#   ./quickstart.sh --deps-only  only install the packages (used by .ci/run)
set -e
cd "$(dirname "$0")"

PACKAGES="build-essential autoconf automake libtool libtool-bin pkg-config \
  libopenmpi-dev openmpi-bin libucx-dev ucx-utils libhwloc-dev hwloc libpmix-dev \
  libcriterion-dev uthash-dev slurm-wlm slurm-client slurmd slurmctld munge libslurm-dev \
  iproute2 util-linux procps python3 \
  python3-mpi4py python3-distributed gnuplot-nox libstarpu-dev"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
        missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "quickstart: installing:$missing"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
[ "${1:-}" = "--deps-only" ] && exit 0

[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure --prefix="$PWD/install"
make -j"$(nproc)"

if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
echo "quickstart: mpirun -n 4 examples/pi"
mpirun --oversubscribe -n 4 examples/pi
