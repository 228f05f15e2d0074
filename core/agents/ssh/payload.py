"""The remote agent as shipped: a bootstrap run with ``python3 -c`` and a
zipapp sent over the same channel.

The bootstrap says which Python it is (version, ABI tag, machine) and its
process id (to kill an agent that froze), reads the
zipapp into a private folder (``mkdtemp``, mode 0700) and runs it. The
zipapp holds ``backup_agent`` (stdlib only). When a read session starts on a
computer whose ABI tag and machine equal the server's, this environment's
compiled ``blake3`` and ``pyfastcdc`` follow (``native_zip``, with
``typing_extensions``, which pyfastcdc imports), extracted into the same
private folder: then the computer cuts and hashes its own files. The agent
keeps them in a cache on the computer (``~/.cache/agent-backup/<sha256>.zip``)
and the server sends them only when that cache lacks them. Otherwise
the agent sends changed files whole and the server cuts them (slower on the
wire; the task log says so once). The folder goes when the agent exits."""
from __future__ import annotations

import functools
import hashlib
import io
import platform
import shlex
import sysconfig
import zipfile
from importlib import util as importlib_util
from pathlib import Path

AGENT_SRC = Path(__file__).parent / "agent_src"
MIN_PYTHON = (3, 8)
# Starts the agent's hello: whatever a chatty login shell prints before it
# (a banner, a .bashrc echo) is skipped, up to MAX_JUNK bytes.
HELLO_MAGIC = b"\x00agent-jobs-hello\x01"
MAX_JUNK = 64 << 10

BOOTSTRAP = r"""
import sys,os,json,struct,tempfile,sysconfig,platform
i=sys.stdin.buffer;o=sys.stdout.buffer
h=json.dumps({"python":"%d.%d.%d"%tuple(sys.version_info[:3]),"soabi":sysconfig.get_config_var("SOABI") or "","machine":platform.machine(),"pid":os.getpid()}).encode()
o.write(b"@MAGIC@"+struct.pack(">I",len(h))+h);o.flush()
def rd(n):
    b=i.read(n)
    if len(b)<n: sys.exit(0)
    return b
n=struct.unpack(">I",rd(4))[0]
if n==0: sys.exit(0)
d=tempfile.mkdtemp(prefix="backup-agent-")
p=os.path.join(d,"agent.pyz")
with open(p,"wb") as f: f.write(rd(n))
sys.path.insert(0,p)
from backup_agent.main import main
main(d,p)
""".replace("@MAGIC@", HELLO_MAGIC.decode("latin-1").encode("unicode_escape").decode())


def command() -> str:
    """The remote command line (run by the user's shell on the computer)."""
    return "python3 -c " + shlex.quote(BOOTSTRAP.strip())


def server_abi() -> tuple[str, str]:
    return sysconfig.get_config_var("SOABI") or "", platform.machine()


def native_matches(soabi: str, machine: str) -> bool:
    mine = server_abi()
    return bool(mine[0]) and (soabi, machine) == mine


@functools.lru_cache(maxsize=1)
def zipapp() -> bytes:
    """The agent's zipapp (stdlib only), built once per process."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for path in sorted((AGENT_SRC / "backup_agent").glob("*.py")):
            z.write(path, f"backup_agent/{path.name}")
    return buf.getvalue()


@functools.lru_cache(maxsize=1)
def native_zip() -> bytes:
    """This environment's compiled blake3 and pyfastcdc (with the pure
    modules they import), sent when a read session starts on a computer
    whose ABI matches; a check or a scan never needs them."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for files in _native_files().values():
            for src, arc in files:
                z.write(src, arc)
    return buf.getvalue()


@functools.lru_cache(maxsize=1)
def native_sha256() -> str:
    """The native modules' name in a computer's cache (the agent checks it)."""
    return hashlib.sha256(native_zip()).hexdigest()


def _native_files() -> dict[str, list[tuple[Path, str]]]:
    found: dict[str, list[tuple[Path, str]]] = {}
    for module in ("blake3", "pyfastcdc", "typing_extensions"):
        spec = importlib_util.find_spec(module)
        if spec is None or spec.origin is None:
            raise RuntimeError(f"{module} is not installed on the server")
        origin = Path(spec.origin)
        if origin.name != "__init__.py":   # a single-file module
            found[module] = [(origin, origin.name)]
            continue
        pkg = origin.parent
        found[module] = [
            (p, f"{module}/{p.relative_to(pkg).as_posix()}") for p in sorted(pkg.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts
            and p.suffix not in (".pyx", ".pxd", ".pyi", ".pyc")]
    return found
