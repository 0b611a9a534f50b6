# service answers one line per request on stdin: a greeting and the time.
while read -r name; do
	echo "hello, ${name:-world} ($(date -u +%H:%M:%S), greeting $(cat /opt/deps/greeting))"
done
