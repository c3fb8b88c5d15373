"""Containers of the images `make images` built, without a container engine.

`buildah run --isolation chroot` runs a command in a container made from an
image, on the host network (PostgreSQL, Redis and SeaweedFS on loopback
serve it as they serve `make run`). A `Container` runs the image's own
ENTRYPOINT, as the image's USER, with the writable paths k8s mounts
(emptyDirs) as host directories; everything else is the image's root
filesystem, which the pods mount read-only: `written()` lists what a process
wrote there anyway. Every process carries a token in its environment, so
the tests find them all (their uids) and stop them all, whatever happens.
"""

import json
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# k8s/base/patches/odoo-pod.yaml: the emptyDirs of the Odoo pod.
ODOO_WRITABLE = ("/tmp", "/var/lib/odoo", "/var/run/peak-metrics")
RUNTIME_UID = 1000
# Mount points buildah run makes (and removes) itself at each run, as a
# container engine does: the runtime's writes, not the image's.
RUNTIME_MOUNTS = (
    "/run/.containerenv",
    "/etc/hosts",
    "/etc/hostname",
    "/etc/resolv.conf",
)


def load_images() -> dict[str, str]:
    path = Path(os.environ.get("PEAK_STATE_DIR", ROOT / ".state")) / "images.env"
    if not path.exists():
        raise RuntimeError(f"{path} is missing: run `make images` first")
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line)
    return dict(pairs)


class Buildah:
    def __init__(self, images: dict[str, str]):
        store = images["PEAK_IMAGE_STORE"]
        self.base = [
            "buildah",
            "--root",
            f"{store}/storage",
            "--runroot",
            f"{store}/run",
            "--storage-driver",
            images["PEAK_IMAGE_DRIVER"],
        ]

    def __call__(self, *args: str, timeout: float = 300) -> str:
        result = subprocess.run(
            [*self.base, *args], capture_output=True, text=True, timeout=timeout
        )
        if result.returncode:
            raise RuntimeError(f"buildah {' '.join(args)}: {result.stderr.strip()}")
        return result.stdout.strip()

    def image_config(self, image: str) -> dict:
        data = json.loads(self("inspect", "--type", "image", image))
        return data["Docker"]["config"]

    def derive(self, image: str, tag: str, *run: str, config=()) -> str:
        """A copy of ``image`` with ``run`` executed in it as root and
        ``buildah config`` options applied: an image broken on purpose."""
        ctr = self("from", "--pull-never", image)
        try:
            if run:
                self("run", "--isolation", "chroot", "--user", "0:0", ctr, "--", *run)
            if config:
                self("config", *config, ctr)
            self("commit", "--quiet", "--format", "docker", ctr, tag)
        finally:
            self("rm", ctr)
        return tag


class Container:
    def __init__(self, bh: Buildah, image: str, workdir: Path, writable=()):
        self.bh = bh
        self.image = image
        self.workdir = workdir
        self.token = secrets.token_hex(8)
        self.procs: list[subprocess.Popen] = []
        config = bh.image_config(image)
        self.entrypoint = config.get("Entrypoint") or []
        self.id = bh("from", "--pull-never", image)
        self.mount = Path(bh("mount", self.id))
        # Mounted where the path leads in the image: buildah would mount
        # /var/run/x over the symlink /var/run, out of the process's sight.
        self.volumes = {}
        for path in writable:
            # A path (a directory of this container's), or (path, host dir)
            # for a volume shared with other containers.
            path, host = path if isinstance(path, tuple) else (path, None)
            host = host or workdir / path.strip("/").replace("/", "_")
            host.mkdir(parents=True, exist_ok=True)
            os.chown(host, RUNTIME_UID, RUNTIME_UID)
            self.volumes[self.resolve(path)] = host
        # buildah makes its mount points (and /etc/hosts...) on the first
        # run: that is the runtime's doing, so it happens before the mark.
        self.run(["true"], entrypoint=False)
        time.sleep(1.1)
        self.since = time.time()

    def argv(self, args, env=None, entrypoint=True) -> list[str]:
        argv = [*self.bh.base, "run", "--isolation", "chroot", "--network", "host"]
        for path, host in self.volumes.items():
            argv += ["-v", f"{host}:{path}"]
        for key, value in {**(env or {}), "PEAK_IMAGE_TEST_TOKEN": self.token}.items():
            argv += ["-e", f"{key}={value}"]
        command = [*self.entrypoint, *args] if entrypoint else list(args)
        return [*argv, "--", self.id, *command]

    def run(self, args, env=None, timeout=900, entrypoint=True):
        return subprocess.run(
            self.argv(args, env, entrypoint),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def start(self, args, env, log: Path) -> subprocess.Popen:
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                self.argv(args, env),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.procs.append(proc)
        return proc

    def processes(self) -> list[int]:
        """PIDs of the processes running in this container (buildah's own
        do not carry the token in their environment)."""
        marker = f"PEAK_IMAGE_TEST_TOKEN={self.token}".encode()
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if marker in (entry / "environ").read_bytes().split(b"\0"):
                    pids.append(int(entry.name))
            except OSError:  # gone, or a kernel thread
                continue
        return pids

    def uids(self) -> dict[int, tuple[int, ...]]:
        """pid -> (real, effective, saved, filesystem) uid."""
        found = {}
        for pid in self.processes():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            line = next(x for x in status.splitlines() if x.startswith("Uid:"))
            found[pid] = tuple(int(x) for x in line.split()[1:])
        return found

    def resolve(self, path: str) -> str:
        """``path`` with the image's symlinks followed (/var/run is /run)."""
        current = "/"
        for part in path.strip("/").split("/"):
            candidate = os.path.join(current, part)
            real = self.mount / candidate.lstrip("/")
            if real.is_symlink():
                target = os.readlink(real)
                current = os.path.normpath(os.path.join(current, target))
            else:
                current = candidate
        return current

    def written(self) -> list[str]:
        """Paths of the image's root filesystem created or changed since the
        container was made, the writable mounts excluded. buildah makes (and
        removes) missing mount points at each run: they and the directories
        holding them change, which is the runtime's doing, not the image's."""
        out = subprocess.run(
            ["find", str(self.mount), "-xdev", "-newermt", f"@{self.since:.3f}"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        mounted = [*self.volumes, *RUNTIME_MOUNTS]
        holders = {os.path.dirname(p) for p in mounted}
        paths = ["/" + p[len(str(self.mount)) :].lstrip("/") for p in out.split()]
        return sorted(
            p
            for p in paths
            if p != "/"
            and p not in holders
            and not any(p == m or p.startswith(m + "/") for m in mounted)
        )

    def stop(self, grace_s: float = 20) -> None:
        """SIGTERM to every process, SIGKILL to what is left after grace_s."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for proc in self.procs:
                if proc.poll() is None:
                    try:
                        os.killpg(proc.pid, sig)
                    except ProcessLookupError:
                        pass
            for pid in self.processes():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + grace_s
            while time.monotonic() < deadline and (
                self.processes() or any(p.poll() is None for p in self.procs)
            ):
                time.sleep(0.2)
            if not self.processes() and all(p.poll() is not None for p in self.procs):
                return

    def remove(self) -> None:
        if self.id is None:
            return
        try:
            self.stop()
        finally:
            self.bh("rm", self.id)
            self.id = None
