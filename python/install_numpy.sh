#!/bin/sh
# Install numpy (from PyPI, with pip) for each CPython 3.11-3.13 found, so the numpy parts of
# tests/python_side.rs run instead of skipping. Safe to run repeatedly; a missing interpreter or
# a failed install is reported and skipped, never fatal:
#   sh python/install_numpy.sh
for v in 3.11 3.12 3.13; do
  py=""
  if command -v "python$v" >/dev/null 2>&1 && "python$v" -c '' >/dev/null 2>&1; then
    py="python$v"
  else
    for d in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$v"*; do
      [ -x "$d/bin/python$v" ] && py="$d/bin/python$v"
    done
  fi
  if [ -z "$py" ]; then
    echo "install_numpy: no python$v found, skipped"
    continue
  fi
  if "$py" -c 'import numpy' >/dev/null 2>&1; then
    echo "install_numpy: python$v already has numpy $("$py" -c 'import numpy; print(numpy.__version__)')"
  elif "$py" -m pip install --quiet --disable-pip-version-check numpy >/dev/null 2>&1; then
    echo "install_numpy: python$v: numpy $("$py" -c 'import numpy; print(numpy.__version__)') installed"
  else
    echo "install_numpy: python$v: pip could not install numpy, its numpy tests will skip"
  fi
done
exit 0
