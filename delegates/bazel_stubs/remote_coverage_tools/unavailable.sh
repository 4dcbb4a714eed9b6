#!/bin/sh
echo "coverage tools are not available in the offline tfq build" >&2
exit 1
