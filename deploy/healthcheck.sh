#!/bin/bash
# Docker's health check of an EMS process: `ems-healthcheck PORT [PATH]` succeeds when
# GET PATH (default /health/ready) on 127.0.0.1:PORT answers 200. Bash's /dev/tcp rather
# than Python: a check every few seconds in every container would otherwise start an
# interpreter each time (~50 ms of CPU on a small machine).
set -euo pipefail
port=${1:?usage: ems-healthcheck PORT [PATH]}
path=${2:-/health/ready}
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$path" >&3
IFS= read -r -t 5 status <&3
[[ $status == "HTTP/1."?" 200 "* ]]
