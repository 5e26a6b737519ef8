"""firstread.py MODE OUT: one pattern of reads of /proc/self/mountinfo by a
process whose first open of it this is (tests/e2e/daemon.sh runs it bare
and preloaded). Writes the bytes read to OUT, the length of each read to
OUT.len and, for fork, the child's bytes to OUT.child.
  plain   read(64 KiB) to the end
  python  open(path).read(), Python's own pattern (lseek SEEK_CUR first)
  lseek   one read, lseek to 0, then to the end
  pread   one read, pread(4 KiB at 0), then to the end
  dup     one read, one read through a dup, then to the end
  fork    one read, a child reads two more, then the parent to the end
  early   one read, MC_FIXTURE_EARLY remounted read-only (a line in the
          first page), then to the end
  late    one read, then OUT.ready is made and OUT.go waited for, while
          the caller mounts a tmpfs on MC_FIXTURE_LATE (the table's end;
          a change of this process's own would make it ask for a read
          begun after it, a fork would leave the fd to the kernel), then
          to the end
  shared  MC_FIXTURE_LATE (a mount the caller made, near the table's end)
          made shared before the open: no event announces that; the
          process that did it must see it
  lseek3, pread3, dup3, fork3: three reads (the second continues in the
          daemon's snapshot), then as lseek (SEEK_CUR: where are we?),
          pread, dup, fork
The caller undoes early and late."""
import ctypes
import os
import sys
import time

mode, out = sys.argv[1], sys.argv[2]
path = "/proc/self/mountinfo"
libc = ctypes.CDLL(None, use_errno=True)
MS_RDONLY, MS_REMOUNT, MS_BIND, MS_SHARED = 1, 32, 4096, 1 << 20


def save(chunks, name):
    with open(name, "wb") as f:
        f.write(b"".join(chunks))
    with open(name + ".len", "w") as f:
        f.write(" ".join(str(len(c)) for c in chunks) + "\n")


if mode == "python":
    with open(path, "rb") as f:
        data = f.read()
    save([data], out)
    sys.exit(0)

if mode == "shared":
    if libc.mount(None, os.environ["MC_FIXTURE_LATE"].encode(), None, MS_SHARED, None) != 0:
        sys.exit("mount: errno %d" % ctypes.get_errno())
fd = os.open(path, os.O_RDONLY)
chunks = [os.read(fd, 65536)]
if mode.endswith("3"):
    chunks += [os.read(fd, 65536), os.read(fd, 65536)]
    mode = mode[:-1]
    if mode == "lseek":
        chunks.append(b"%d" % os.lseek(fd, 0, os.SEEK_CUR))
        mode = "done"
if mode == "lseek":
    os.lseek(fd, 0, os.SEEK_SET)
elif mode == "pread":
    chunks.append(os.pread(fd, 4096, 0))
elif mode == "dup":
    d = os.dup(fd)
    chunks.append(os.read(d, 65536))
    os.close(d)
elif mode == "fork":
    pid = os.fork()
    if pid == 0:
        save([os.read(fd, 65536), os.read(fd, 65536)], out + ".child")
        os._exit(0)
    os.waitpid(pid, 0)
elif mode == "early":
    if libc.mount(None, os.environ["MC_FIXTURE_EARLY"].encode(), None,
                  MS_REMOUNT | MS_BIND | MS_RDONLY, None) != 0:
        sys.exit("mount: errno %d" % ctypes.get_errno())
elif mode == "late":
    open(out + ".ready", "w").close()
    while not os.path.exists(out + ".go"):
        time.sleep(0.001)
while True:
    b = os.read(fd, 65536)
    chunks.append(b)
    if not b:
        break
os.close(fd)
save(chunks, out)
