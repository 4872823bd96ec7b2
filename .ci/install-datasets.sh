#!/bin/sh
# Installs the datasets CI tests read from system paths; idempotent and quiet.
# Fashion-MNIST: Debian's dataset-fashion-mnist puts the four official .gz IDX files in
# /usr/share/datasets/fashion-mnist/ (the loader's last search location).
set -eu

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dataset-fashion-mnist >/dev/null
fi
