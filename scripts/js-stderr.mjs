// First import of a command started by bin/webgpu-dcgan.mjs: there fd 2 is a pipe through a filter that
// drops Dawn's two limit warnings (native writes, which JavaScript cannot redirect), and fd 3 is the
// launcher's own stderr (WEBGPU_DCGAN_STDERR_FD). JavaScript's process.stderr moves to fd 3 here, before
// anything has written to it, so our messages and the progress bar reach the terminal directly (a
// terminal stays one: the bar redraws in place) and only Dawn's native output passes the filter.
// The stream is made the way Node makes process.stderr for that kind of file.
import { fstatSync, writeSync } from 'node:fs';
import { Socket } from 'node:net';
import { Writable } from 'node:stream';
import { WriteStream, isatty } from 'node:tty';

const fd = Number(process.env.WEBGPU_DCGAN_STDERR_FD);
delete process.env.WEBGPU_DCGAN_STDERR_FD; // for this process only, not for the ones it starts (Chromium)

/** A write stream on `fd`: a terminal's, a pipe's or socket's (as Node's stdio), or synchronous writes to a file. */
function streamOn(fd) {
  if (isatty(fd)) return new WriteStream(fd);
  if (fstatSync(fd).isFIFO() || fstatSync(fd).isSocket()) {
    const socket = new Socket({ fd, readable: false, writable: true });
    socket._type = 'pipe';
    return socket;
  }
  return new Writable({
    write(chunk, _encoding, done) {
      try {
        for (let at = 0; at < chunk.length;) at += writeSync(fd, chunk, at);
        done();
      } catch (e) {
        done(e);
      }
    },
  });
}

if (Number.isInteger(fd) && fd > 2) {
  const stream = streamOn(fd);
  stream.fd = fd;
  Object.defineProperty(process, 'stderr', { configurable: true, enumerable: true, get: () => stream });
}
