"""A small HTTP load generator, run as its own process by the server tests.

    python loadgen.py URL COUNT CONCURRENCY  ->  prints {"ok": N, "failed": N, "errors": [...]}
"""

import http.client
import json
import sys
import threading
import urllib.parse


def main() -> None:
    url, count, concurrency = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    parts = urllib.parse.urlsplit(url)
    lock = threading.Lock()
    results = {"ok": 0, "failed": 0, "errors": []}
    remaining = iter(range(count))

    def worker() -> None:
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        while True:
            with lock:
                if next(remaining, None) is None:
                    break
            try:
                connection.request("GET", parts.path or "/")
                response = connection.getresponse()
                body = response.read()
                good = response.status == 200 and body
            except (OSError, http.client.HTTPException) as exc:
                good = False
                connection.close()
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                with lock:
                    results["errors"].append(repr(exc))
            with lock:
                results["ok" if good else "failed"] += 1
        connection.close()

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results["errors"] = results["errors"][:5]
    print(json.dumps(results))


if __name__ == "__main__":
    main()
