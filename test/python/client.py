"""A real Python Socket.IO client (Debian's python3-socketio, Engine.IO 4) driven by test/python/python-client.test.ts.

Usage: client.py <url> <transports, comma-separated>. Prints one JSON line per observation and exits once the
server disconnected it.
"""
import json
import sys
import threading

import socketio

url = sys.argv[1]
transports = sys.argv[2].split(",")
done = threading.Event()
sio = socketio.Client(reconnection=False)


def report(*entry):
    print(json.dumps(entry), flush=True)


@sio.event
def connect():
    report("connect", sio.get_sid("/"), sio.transport())


@sio.on("question")
def question(value):
    return {"answer": value * 2}


@sio.on("news")
def news(value):
    report("news", value)
    # the broadcast reached the room: ask the server to disconnect this client
    sio.emit("kick")


@sio.event
def disconnect():
    report("disconnect")
    done.set()


sio.connect(url, transports=transports, auth={"token": "py"}, wait_timeout=10)
report("ack", sio.call("hello", {"a": 1}, timeout=10))
sio.emit("join", "room")
done.wait(30)
sio.disconnect()
