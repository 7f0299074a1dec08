#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
#
# TEST CODE — NOT PRODUCT. A stand-in for kubelet (plus the default scheduler's binding step) in the local
# environment (hack/local-up.sh). It registers one Node, renews its Lease, binds unscheduled pods to itself
# and runs every pod whose container images are listed in its image table (tests/standins/images.tsv) as
# local processes, each pod in its own network namespace with its own IP on the environment's private pod
# network. Anything a real kubelet does that the tests do not need is left out (see README in this folder).
"""kacme node stand-in (test code): runs pods as local processes in per-pod network namespaces."""

import argparse
import base64
import datetime
import ipaddress
import json
import os
import platform
import queue
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import http.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import kubeclient  # noqa: E402

NETNS_PREFIX = "kacme-pod-"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
VOLUME_REFRESH_SECONDS = 15
LOG_MARKER = "--- kacme-node-standin: "   # starts each container instance's section of its log file
BACKOFF_CAP_SECONDS = 30

# Runs inside the pod's network namespace and a private mount (and UTS) namespace: bind-mounts the pod's
# volumes at their mount paths, sets the hostname, then becomes the container process (optionally as
# another uid). Arguments: hostname uid gid workdir nmounts (src dst ro|rw)... -- argv...
LAUNCH = r'''
set -e
h=$1 u=$2 g=$3 wd=$4 n=$5; shift 5
hostname "$h" 2>/dev/null || true
while [ "$n" -gt 0 ]; do
  mount --bind "$1" "$2"
  if [ "$3" = ro ]; then mount -o remount,bind,ro "$2"; fi
  shift 3; n=$((n-1))
done
cd "$wd" 2>/dev/null || cd /
if [ "$u" = 0 ]; then exec "$@"; fi
exec setpriv --reuid="$u" --regid="$g" --clear-groups --inh-caps=-all -- "$@"
'''


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def now_micro():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def log(msg):
    print(f"{now_iso()} node-standin: {msg}", flush=True)


def run(argv, check=True):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: {r.stderr.strip()}")
    return r


def image_repository(image):
    """ghcr.io/kacme/controller:v1@sha256:... -> ghcr.io/kacme/controller (tag and digest ignored)."""
    image = image.split("@", 1)[0]
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        image = image[:colon]
    return image


def load_images(path, build_dir=None):
    """The image table; ${VAR} from the environment, KACME_BUILD_DIR overridden by build_dir."""
    table = {}
    saved = os.environ.get("KACME_BUILD_DIR")
    if build_dir:
        os.environ["KACME_BUILD_DIR"] = build_dir
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 2:
                raise ValueError(f"{path}: bad line {line!r} (want: <image repository> <binary path>)")
            table[parts[0]] = os.path.expandvars(parts[1])
    if build_dir:
        if saved is None:
            os.environ.pop("KACME_BUILD_DIR", None)
        else:
            os.environ["KACME_BUILD_DIR"] = saved
    return table


def expand(s, env):
    """Kubernetes $(VAR) expansion: $$ escapes, unknown $(VAR) stay verbatim."""
    out, i, n = [], 0, len(s)
    while i < n:
        c = s[i]
        if c == "$" and i + 1 < n:
            if s[i + 1] == "$":
                out.append("$")
                i += 2
                continue
            if s[i + 1] == "(":
                j = s.find(")", i + 2)
                if j > 0:
                    name = s[i + 2:j]
                    out.append(env[name] if name in env else s[i:j + 1])
                    i = j + 1
                    continue
        out.append(c)
        i += 1
    return "".join(out)


def proc_starttime(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except OSError:
        return None


class PodError(Exception):
    """A reason (CamelCase) and a message for a container's waiting state."""

    def __init__(self, reason, message):
        super().__init__(message)
        self.reason = reason
        self.message = message


class Container:
    def __init__(self, spec, init=False):
        self.spec = spec
        self.name = spec["name"]
        self.init = init
        self.proc = None
        self.started_at = None
        self.restarts = 0
        self.state = {"waiting": {"reason": "ContainerCreating"}}
        self.last_state = {}
        self.next_start = 0.0
        self.done = False          # terminated and will not be restarted
        self.exit_code = None
        self.ready = False
        self.ever_ready = False
        self.probes = {}           # startup/readiness/liveness -> {"next", "ok", "fail"}
        self.startup_ok = False
        self.started_mono = 0.0
        self.killing = False       # killed by a failed probe, waiting for it to exit
        self.kill_at = 0.0         # SIGKILL after this time


class PodRuntime:
    def __init__(self, node, pod):
        self.node = node
        self.pod = pod
        md = pod["metadata"]
        self.uid = md["uid"]
        self.ns = md["namespace"]
        self.name = md["name"]
        self.key = f"{self.ns}/{self.name}"
        self.host_network = bool(pod["spec"].get("hostNetwork"))
        self.netns = None if self.host_network else NETNS_PREFIX + self.uid[:8]
        self.dir = os.path.join(node.state_dir, "pods", f"{self.ns}_{self.name}_{self.uid[:8]}")
        self.ip = None
        self.init = [Container(c, True) for c in pod["spec"].get("initContainers") or []]
        self.containers = [Container(c) for c in pod["spec"].get("containers") or []]
        self.init_index = 0
        self.start_time = now_iso()
        self.terminating = False
        self.finished = False      # Succeeded/Failed: sandbox torn down
        self.sandbox = False
        self.volumes_ready = False
        self.next_volume_refresh = 0.0
        self.tokens = {}           # (sa, audience, expiration) -> (token, fetched_at, ttl)
        self.volume_hash = {}
        self.error = None          # PodError blocking start
        self.next_retry = 0.0
        self.transitions = {}
        self.last_status = None

    # ----- sandbox -----
    def setup_sandbox(self):
        os.makedirs(os.path.join(self.dir, "logs"), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "volumes"), exist_ok=True)
        if self.host_network:
            self.ip = str(self.node.host_ip)
            self.sandbox = True
            return
        self.ip = self.node.alloc_ip(self.uid)
        ns, ip_ = self.netns, self.node.ip
        hv, pv = "kvh" + self.uid[:8], "kvp" + self.uid[:8]
        run([ip_, "netns", "del", ns], check=False)
        run([ip_, "link", "del", hv], check=False)
        run([ip_, "netns", "add", ns])
        self.sandbox = True
        # IPv4 pod network; IPv6 only on lo (::1), as in an IPv4-only cluster
        run([ip_, "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
             "net.ipv6.conf.default.disable_ipv6=1", "net.ipv6.conf.lo.disable_ipv6=0"], check=False)
        run([ip_, "link", "add", hv, "type", "veth", "peer", "name", pv])
        run([ip_, "link", "set", pv, "netns", ns])
        run([ip_, "link", "set", hv, "master", self.node.bridge])
        run([ip_, "link", "set", hv, "up"])
        run([ip_, "-n", ns, "link", "set", pv, "name", "eth0"])
        run([ip_, "-n", ns, "addr", "add", f"{self.ip}/{self.node.net.prefixlen}", "dev", "eth0"])
        run([ip_, "-n", ns, "link", "set", "eth0", "up"])
        run([ip_, "-n", ns, "link", "set", "lo", "up"])
        # Deliberately no default route: a pod reaches only the pod network (host side, other pods).
        log(f"pod {self.key}: sandbox {ns} ip {self.ip}")

    def teardown_sandbox(self):
        if self.netns:
            r = run([self.node.ip, "netns", "pids", self.netns], check=False)
            pids = [int(p) for p in r.stdout.split()] if r.returncode == 0 else []
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            run([self.node.ip, "netns", "del", self.netns], check=False)
            run([self.node.ip, "link", "del", "kvh" + self.uid[:8]], check=False)
        self.node.free_ip(self.uid)
        shutil.rmtree(os.path.join(self.dir, "volumes"), ignore_errors=True)
        try:
            os.unlink(os.path.join(self.dir, "pids"))
        except OSError:
            pass
        self.sandbox = False

    # ----- volumes -----
    def field_value(self, path):
        md, spec = self.pod["metadata"], self.pod["spec"]
        simple = {
            "metadata.name": md.get("name", ""), "metadata.namespace": md.get("namespace", ""),
            "metadata.uid": md.get("uid", ""), "spec.nodeName": self.node.name,
            "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
            "status.hostIP": str(self.node.host_ip), "status.hostIPs": str(self.node.host_ip),
            "status.podIP": self.ip or "", "status.podIPs": self.ip or "",
        }
        if path in simple:
            return simple[path]
        for field in ("labels", "annotations"):
            pre = f"metadata.{field}"
            if path == pre:
                return "\n".join(f'{k}="{v}"' for k, v in sorted((md.get(field) or {}).items()))
            if path.startswith(pre + "['") and path.endswith("']"):
                return (md.get(field) or {}).get(path[len(pre) + 2:-2], "")
        raise PodError("CreateContainerConfigError", f"unsupported fieldRef {path!r}")

    def resource_value(self, ref, container_name=None):
        res = ref.get("resource", "")
        cname = ref.get("containerName") or container_name
        spec = next((c for c in self.pod["spec"].get("containers", []) if c["name"] == cname), {})
        kind, _, what = res.partition(".")
        val = ((spec.get("resources") or {}).get(kind) or {}).get(what)
        if val is None:
            val = str(os.cpu_count() or 1) if what == "cpu" else str(8 << 30)
        return str(val)

    def api_object(self, kind, name, optional):
        obj = self.node.client.get(f"/api/v1/namespaces/{self.ns}/{kind}/{name}", ok404=True)
        if obj is None and not optional:
            raise PodError("CreateContainerConfigError", f"{kind[:-1]} {self.ns}/{name} not found")
        return obj

    @staticmethod
    def kv_data(obj, kind):
        data = {}
        if not obj:
            return data
        if kind == "secrets":
            for k, v in (obj.get("data") or {}).items():
                data[k] = base64.b64decode(v)
        else:
            for k, v in (obj.get("data") or {}).items():
                data[k] = v.encode()
            for k, v in (obj.get("binaryData") or {}).items():
                data[k] = base64.b64decode(v)
        return data

    def keyed_files(self, src, kind, name_field, default_mode, files):
        name = src.get(name_field)
        obj = self.api_object(kind, name, src.get("optional", False))
        data = self.kv_data(obj, kind)
        items = src.get("items")
        if items:
            for it in items:
                if it["key"] not in data:
                    if src.get("optional"):
                        continue
                    raise PodError("CreateContainerConfigError", f"key {it['key']} not in {kind[:-1]} {name}")
                files[it["path"]] = (data[it["key"]], it.get("mode", default_mode))
        else:
            for k, v in data.items():
                files[k] = (v, default_mode)

    def token(self, sa, audience, expiration):
        k = (sa, audience, expiration)
        cached = self.tokens.get(k)
        if cached and time.time() - cached[1] < 0.8 * cached[2]:
            return cached[0]
        spec = {"expirationSeconds": expiration,
                "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": self.name, "uid": self.uid}}
        if audience:
            spec["audiences"] = [audience]
        tr = self.node.client.post(f"/api/v1/namespaces/{self.ns}/serviceaccounts/{sa}/token",
                                   {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                    "spec": spec})
        tok = tr["status"]["token"]
        exp = tr["status"].get("expirationTimestamp")
        ttl = expiration
        if exp:
            try:
                t = datetime.datetime.strptime(exp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
                ttl = max(60, int(t.timestamp() - time.time()))
            except ValueError:
                pass
        self.tokens[k] = (tok, time.time(), ttl)
        return tok

    def volume_files(self, vol):
        """Returns {relative path: (bytes, mode)} for a volume, or None for a plain directory volume."""
        if "emptyDir" in vol:
            return None
        if "secret" in vol:
            files = {}
            s = vol["secret"]
            self.keyed_files(s, "secrets", "secretName", s.get("defaultMode", 0o644), files)
            return files
        if "configMap" in vol:
            files = {}
            c = vol["configMap"]
            self.keyed_files(c, "configmaps", "name", c.get("defaultMode", 0o644), files)
            return files
        if "downwardAPI" in vol:
            d = vol["downwardAPI"]
            return self.downward_files(d.get("items") or [], d.get("defaultMode", 0o644))
        if "projected" in vol:
            p = vol["projected"]
            mode = p.get("defaultMode", 0o644)
            files = {}
            for src in p.get("sources") or []:
                if "serviceAccountToken" in src:
                    t = src["serviceAccountToken"]
                    sa = self.pod["spec"].get("serviceAccountName") or "default"
                    files[t["path"]] = (self.token(sa, t.get("audience", ""),
                                                   t.get("expirationSeconds", 3600)).encode(), mode)
                elif "configMap" in src:
                    self.keyed_files(src["configMap"], "configmaps", "name", mode, files)
                elif "secret" in src:
                    self.keyed_files(src["secret"], "secrets", "name", mode, files)
                elif "downwardAPI" in src:
                    files.update(self.downward_files(src["downwardAPI"].get("items") or [], mode))
                else:
                    raise PodError("CreateContainerConfigError",
                                   f"projected source {sorted(src)} not supported by the node stand-in")
            return files
        raise PodError("CreateContainerConfigError",
                       f"volume {vol.get('name')}: type {sorted(k for k in vol if k != 'name')} "
                       "not supported by the node stand-in")

    def downward_files(self, items, default_mode):
        files = {}
        for it in items:
            if "fieldRef" in it:
                v = self.field_value(it["fieldRef"]["fieldPath"])
            elif "resourceFieldRef" in it:
                v = self.resource_value(it["resourceFieldRef"])
            else:
                continue
            files[it["path"]] = (v.encode(), it.get("mode", default_mode))
        return files

    def write_volume(self, name, files, uid):
        """Atomic update like kubelet's: ..data -> ..<ts>/, each top-level entry -> ..data/<entry>."""
        vdir = os.path.join(self.dir, "volumes", name)
        os.makedirs(vdir, mode=0o755, exist_ok=True)
        os.chmod(vdir, 0o755)
        if files is None:
            if uid:
                os.chown(vdir, uid, -1)
            return vdir
        digest = json.dumps({k: [base64.b64encode(v[0]).decode(), v[1]] for k, v in sorted(files.items())})
        if self.volume_hash.get(name) == digest:
            return vdir
        ts = os.path.join(vdir, f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{random.randrange(1 << 30)}")
        os.makedirs(ts, mode=0o755)
        for rel, (data, mode) in files.items():
            p = os.path.join(ts, rel)
            os.makedirs(os.path.dirname(p), mode=0o755, exist_ok=True)
            with open(p, "wb") as f:
                f.write(data)
            os.chmod(p, mode & 0o777)
            if uid:
                os.chown(p, uid, -1)
        tmp = os.path.join(vdir, "..data_tmp")
        try:
            os.unlink(tmp)
        except OSError:
            pass
        old = os.readlink(os.path.join(vdir, "..data")) if os.path.islink(os.path.join(vdir, "..data")) else None
        os.symlink(os.path.basename(ts), tmp)
        os.rename(tmp, os.path.join(vdir, "..data"))
        tops = {rel.split("/", 1)[0] for rel in files}
        for t in tops:
            link = os.path.join(vdir, t)
            if not os.path.islink(link):
                os.symlink(os.path.join("..data", t), link)
        for entry in os.listdir(vdir):
            p = os.path.join(vdir, entry)
            if not entry.startswith("..") and entry not in tops and os.path.islink(p):
                os.unlink(p)
        if old:
            shutil.rmtree(os.path.join(vdir, old), ignore_errors=True)
        self.volume_hash[name] = digest
        return vdir

    def pod_uid_gid(self, cspec):
        psc = self.pod["spec"].get("securityContext") or {}
        csc = cspec.get("securityContext") or {}
        uid = csc.get("runAsUser", psc.get("runAsUser"))
        gid = csc.get("runAsGroup", psc.get("runAsGroup"))
        nonroot = csc.get("runAsNonRoot", psc.get("runAsNonRoot"))
        if uid is None:
            uid = 65532 if nonroot else 0
        if gid is None:
            gid = uid
        return int(uid), int(gid)

    def refresh_volumes(self):
        uid = 0
        for c in self.containers:
            uid = uid or self.pod_uid_gid(c.spec)[0]
        for vol in self.pod["spec"].get("volumes") or []:
            if "hostPath" in vol:
                continue
            self.write_volume(vol["name"], self.volume_files(vol), uid)
        self.volumes_ready = True
        self.next_volume_refresh = time.time() + VOLUME_REFRESH_SECONDS

    # ----- containers -----
    def container_env(self, cspec):
        env = {
            "KUBERNETES_SERVICE_HOST": str(self.node.host_ip),
            "KUBERNETES_SERVICE_PORT": str(self.node.api_port),
            "KUBERNETES_SERVICE_PORT_HTTPS": str(self.node.api_port),
            "KUBERNETES_PORT": f"tcp://{self.node.host_ip}:{self.node.api_port}",
            f"KUBERNETES_PORT_{self.node.api_port}_TCP": f"tcp://{self.node.host_ip}:{self.node.api_port}",
        }
        for ef in cspec.get("envFrom") or []:
            prefix = ef.get("prefix", "")
            if "configMapRef" in ef:
                r = ef["configMapRef"]
                data = self.kv_data(self.api_object("configmaps", r["name"], r.get("optional", False)), "configmaps")
            elif "secretRef" in ef:
                r = ef["secretRef"]
                data = self.kv_data(self.api_object("secrets", r["name"], r.get("optional", False)), "secrets")
            else:
                continue
            for k, v in data.items():
                env[prefix + k] = v.decode(errors="replace")
        for e in cspec.get("env") or []:
            name = e["name"]
            if "value" in e:
                env[name] = expand(e["value"], env)
                continue
            vf = e.get("valueFrom") or {}
            if "fieldRef" in vf:
                env[name] = self.field_value(vf["fieldRef"]["fieldPath"])
            elif "resourceFieldRef" in vf:
                env[name] = self.resource_value(vf["resourceFieldRef"], cspec["name"])
            elif "secretKeyRef" in vf or "configMapKeyRef" in vf:
                kind, r = ("secrets", vf["secretKeyRef"]) if "secretKeyRef" in vf else \
                    ("configmaps", vf["configMapKeyRef"])
                data = self.kv_data(self.api_object(kind, r["name"], r.get("optional", False)), kind)
                if r["key"] in data:
                    env[name] = data[r["key"]].decode(errors="replace")
                elif not r.get("optional"):
                    raise PodError("CreateContainerConfigError", f"key {r['key']} not in {kind[:-1]} {r['name']}")
            else:
                env[name] = ""
        env.setdefault("PATH", DEFAULT_PATH)
        env.setdefault("HOSTNAME", self.name)
        env.setdefault("HOME", "/root")
        return env

    def start_container(self, c):
        cspec = c.spec
        image = cspec.get("image", "")
        repo = image_repository(image)
        binary = self.node.image_table().get(repo)
        if binary is None:
            raise PodError("ImagePullBackOff", f"image {image!r} (repository {repo!r}) is not in the node "
                                               f"stand-in's image table {self.node.images_file}")
        if not os.access(binary, os.X_OK):
            raise PodError("ErrImagePull", f"image {image!r} maps to {binary}, which is not an executable "
                                           "file (not built yet?)")
        env = self.container_env(cspec)
        command = [expand(a, env) for a in cspec.get("command") or []]
        args = [expand(a, env) for a in cspec.get("args") or []]
        # The image's only binary is its entrypoint; a given command replaces command[0] by that binary.
        argv = [binary] + command[1:] + args
        uid, gid = self.pod_uid_gid(cspec)
        mounts = []
        vols = {v["name"]: v for v in self.pod["spec"].get("volumes") or []}
        for vm in cspec.get("volumeMounts") or []:
            v = vols.get(vm["name"])
            if v is None:
                raise PodError("CreateContainerConfigError", f"volumeMount {vm['name']}: no such volume")
            if vm.get("subPath"):
                raise PodError("CreateContainerConfigError", "subPath mounts are not supported by the node stand-in")
            src = v["hostPath"]["path"] if "hostPath" in v else os.path.join(self.dir, "volumes", vm["name"])
            dst = vm["mountPath"]
            self.node.ensure_mountpoint(dst)
            mounts += [src, dst, "ro" if vm.get("readOnly") else "rw"]
        logf = open(os.path.join(self.dir, "logs", f"{c.name}.log"), "ab")
        logf.write(f"{LOG_MARKER}{now_iso()} start {' '.join(argv)}\n".encode())
        logf.flush()
        launcher = [self.node.unshare, "-m", "-u", "--propagation", "private", "/bin/sh", "-c", LAUNCH,
                    "kacme-pod", self.name[:63], str(uid), str(gid), cspec.get("workingDir") or "/",
                    str(len(mounts) // 3)] + mounts + argv
        if self.netns:
            launcher = [self.node.ip, "netns", "exec", self.netns] + launcher
        try:
            c.proc = subprocess.Popen(launcher, env=env, stdin=subprocess.DEVNULL, stdout=logf,
                                      stderr=subprocess.STDOUT, cwd=self.dir, start_new_session=True)
        finally:
            logf.close()
        with open(os.path.join(self.dir, "pids"), "a") as f:
            f.write(f"{c.name} {c.proc.pid} {proc_starttime(c.proc.pid)}\n")
        c.started_at = now_iso()
        c.state = {"running": {"startedAt": c.started_at}}
        c.ready = False
        c.probes = {}
        c.startup_ok = False
        c.killing = False
        c.kill_at = 0.0
        c.started_mono = time.time()
        log(f"pod {self.key}: container {c.name} started pid {c.proc.pid}: {' '.join(argv)}")

    def restart_policy(self):
        return self.pod["spec"].get("restartPolicy", "Always")

    def handle_exit(self, c, code):
        fin = now_iso()
        reason = "Completed" if code == 0 else ("Error" if code > 0 else "Error")
        if code < 0:
            code = 128 - code
        term = {"terminated": {"exitCode": code, "reason": reason, "startedAt": c.started_at,
                               "finishedAt": fin, "containerID": f"kacme://{c.proc.pid}"}}
        log(f"pod {self.key}: container {c.name} exited with {code}")
        c.proc = None
        c.ready = False
        c.exit_code = code
        policy = self.restart_policy()
        restart = policy == "Always" or (policy == "OnFailure" and code != 0)
        if c.init and code == 0:
            restart = False
        if c.init and code != 0 and policy == "Never":
            restart = False
        if restart:
            c.restarts += 1
            c.last_state = term
            delay = min(BACKOFF_CAP_SECONDS, 2 ** min(c.restarts - 1, 5))
            c.next_start = time.time() + delay
            c.state = {"waiting": {"reason": "CrashLoopBackOff",
                                   "message": f"back-off {delay}s restarting failed container {c.name}"}}
        else:
            c.state = term
            c.done = True

    def probe(self, c, now):
        """startupProbe first (until it passes), then readinessProbe (Ready) and livenessProbe (restart after
        failureThreshold failures), each on its own schedule; kubelet's defaults."""
        if c.proc is None:
            return
        if c.kill_at and now >= c.kill_at:
            try:
                os.killpg(c.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            c.kill_at = 0.0
        if c.killing:
            return
        sp = c.spec.get("startupProbe")
        if sp and not c.startup_ok:
            r = self.step_probe(c, "startup", sp, now)
            if r is True:
                c.startup_ok = True
            elif r is False:
                self.kill_for_restart(c, "startup probe failed", now)
            return
        rp = c.spec.get("readinessProbe")
        if not rp:
            c.ready = True
        else:
            r = self.step_probe(c, "readiness", rp, now, fast=not c.ever_ready)
            if r is True:
                c.ready = c.ever_ready = True
            elif r is False:
                c.ready = False
        lp = c.spec.get("livenessProbe")
        if lp and self.step_probe(c, "liveness", lp, now) is False:
            self.kill_for_restart(c, "liveness probe failed", now)

    def step_probe(self, c, kind, spec, now, fast=False):
        """Runs one probe when due; True/False once the success/failure threshold is reached, else None."""
        st = c.probes.setdefault(kind, {"next": c.started_mono + spec.get("initialDelaySeconds", 0),
                                        "ok": 0, "fail": 0})
        if now < st["next"]:
            return None
        period = spec.get("periodSeconds", 10)
        st["next"] = now + (min(period, 1) if fast else period)
        if self.run_probe(spec, c.spec):
            st["ok"], st["fail"] = st["ok"] + 1, 0
            return True if st["ok"] >= spec.get("successThreshold", 1) else None
        st["ok"], st["fail"] = 0, st["fail"] + 1
        if st["fail"] >= spec.get("failureThreshold", 3):
            st["fail"] = 0
            return False
        return None

    def kill_for_restart(self, c, why, now):
        log(f"pod {self.key}: container {c.name}: {why}; killing it")
        grace = min(int(self.pod["spec"].get("terminationGracePeriodSeconds", 30)), 10)
        try:
            os.killpg(c.proc.pid, signal.SIGTERM)
        except OSError:
            pass
        c.killing = True
        c.ready = False
        c.kill_at = now + grace

    def port_number(self, port, cspec):
        if isinstance(port, int):
            return port
        if str(port).isdigit():
            return int(port)
        for p in cspec.get("ports") or []:
            if p.get("name") == port:
                return p["containerPort"]
        return None

    def run_probe(self, rp, cspec):
        timeout = rp.get("timeoutSeconds", 1)
        try:
            if "httpGet" in rp:
                h = rp["httpGet"]
                port = self.port_number(h.get("port"), cspec)
                host = h.get("host") or self.ip
                if h.get("scheme", "HTTP").upper() == "HTTPS":
                    conn = http.client.HTTPSConnection(host, port, timeout=timeout,
                                                       context=ssl._create_unverified_context())
                else:
                    conn = http.client.HTTPConnection(host, port, timeout=timeout)
                try:
                    hdrs = {x["name"]: x["value"] for x in h.get("httpHeaders") or []}
                    conn.request("GET", h.get("path", "/"), headers=hdrs)
                    return 200 <= conn.getresponse().status < 400
                finally:
                    conn.close()
            if "tcpSocket" in rp:
                port = self.port_number(rp["tcpSocket"].get("port"), cspec)
                with socket.create_connection((rp["tcpSocket"].get("host") or self.ip, port), timeout=timeout):
                    return True
            return True  # exec / grpc probes: not run by the stand-in, treated as passing
        except (OSError, http.client.HTTPException, TypeError):
            return False

    def tick(self, now):
        """Advances the pod: starts/restarts containers, reaps exits, probes. Returns nothing."""
        if self.terminating or self.finished:
            return
        if self.error and now < self.next_retry:
            return
        try:
            if not self.sandbox:
                self.setup_sandbox()
            if not self.volumes_ready or now >= self.next_volume_refresh:
                self.refresh_volumes()
            self.error = None
        except PodError as e:
            self.error, self.next_retry = e, now + 5
            return
        except Exception as e:  # API or ip failures: retry
            self.error, self.next_retry = PodError("CreatePodSandboxError", str(e)), now + 5
            log(f"pod {self.key}: {e}")
            return
        # init containers, one at a time
        while self.init_index < len(self.init):
            c = self.init[self.init_index]
            if c.proc is not None:
                code = c.proc.poll()
                if code is None:
                    return
                self.handle_exit(c, code)
            if c.done:
                if c.exit_code == 0:
                    self.init_index += 1
                    continue
                return  # failed with restartPolicy Never: pod Failed
            if now < c.next_start:
                return
            if not self.try_start(c, now):
                return
            return
        for c in self.containers:
            if c.proc is not None:
                code = c.proc.poll()
                if code is not None:
                    self.handle_exit(c, code)
            if c.proc is None and not c.done and now >= c.next_start:
                self.try_start(c, now)
            self.probe(c, now)
        if self.containers and all(c.done for c in self.containers):
            self.finished = True
            self.teardown_sandbox()

    def try_start(self, c, now):
        try:
            self.start_container(c)
            return True
        except PodError as e:
            c.state = {"waiting": {"reason": e.reason, "message": e.message}}
            c.next_start = now + 10
            log(f"pod {self.key}: container {c.name}: {e.reason}: {e.message}")
        except Exception as e:
            c.state = {"waiting": {"reason": "RunContainerError", "message": str(e)}}
            c.next_start = now + 10
            log(f"pod {self.key}: container {c.name}: {e}")
        return False

    def phase(self):
        policy = self.restart_policy()
        if self.init_index < len(self.init):
            c = self.init[self.init_index]
            if c.done and c.exit_code != 0:
                return "Failed"
            return "Pending"
        if self.containers and all(c.done for c in self.containers):
            if all(c.exit_code == 0 for c in self.containers):
                return "Succeeded"
            return "Failed" if policy != "Always" else "Running"
        if any(c.started_at for c in self.containers):
            return "Running"
        return "Pending"

    def cond(self, typ, ok, reason=None):
        status = "True" if ok else "False"
        prev = self.transitions.get(typ)
        if not prev or prev[0] != status:
            self.transitions[typ] = (status, now_iso())
        d = {"type": typ, "status": status, "lastProbeTime": None, "lastTransitionTime": self.transitions[typ][1]}
        if reason and not ok:
            d["reason"] = reason
        return d

    @staticmethod
    def cstatus(c):
        image = c.spec.get("image", "")
        st = {"name": c.name, "image": image, "imageID": f"kacme-standin://{image_repository(image)}",
              "ready": bool(c.ready and c.proc is not None), "restartCount": c.restarts,
              "started": c.proc is not None and (c.startup_ok or not c.spec.get("startupProbe")),
              "state": c.state}
        if c.proc is not None:
            st["containerID"] = f"kacme://{c.proc.pid}"
        if c.last_state:
            st["lastState"] = c.last_state
        return st

    def status(self):
        phase = self.phase()
        inited = self.init_index >= len(self.init)
        cready = bool(self.containers) and all(c.ready and c.proc is not None for c in self.containers)
        st = {
            "phase": phase,
            "hostIP": str(self.node.host_ip), "hostIPs": [{"ip": str(self.node.host_ip)}],
            "startTime": self.start_time,
            # the API server computes qosClass from the resources and refuses any change to it
            "qosClass": (self.pod.get("status") or {}).get("qosClass") or "BestEffort",
            "conditions": [
                self.cond("PodReadyToStartContainers", self.sandbox or self.finished),
                self.cond("Initialized", inited, "ContainersNotInitialized"),
                self.cond("ContainersReady", cready, "ContainersNotReady"),
                self.cond("Ready", cready and phase == "Running", "ContainersNotReady"),
                self.cond("PodScheduled", True),
            ],
            "containerStatuses": [self.cstatus(c) for c in self.containers],
        }
        if self.init:
            st["initContainerStatuses"] = [self.cstatus(c) for c in self.init]
        if self.ip:
            st["podIP"] = self.ip
            st["podIPs"] = [{"ip": self.ip}]
        if self.error:
            for cs in st["containerStatuses"]:
                if "waiting" in cs["state"]:
                    cs["state"] = {"waiting": {"reason": self.error.reason, "message": self.error.message}}
            st["message"] = self.error.message
            st["reason"] = self.error.reason
        else:
            waiting = [cs["state"]["waiting"] for cs in st["containerStatuses"] if "waiting" in cs["state"]
                       and cs["state"]["waiting"].get("message")]
            st["message"] = waiting[0]["message"] if waiting else None
            st["reason"] = waiting[0]["reason"] if waiting else None
        return st

    def push_status(self):
        st = self.status()
        if st == self.last_status:
            return
        try:
            self.node.client.patch(f"/api/v1/namespaces/{self.ns}/pods/{self.name}/status",
                                   {"metadata": {"uid": self.uid}, "status": st})
            self.last_status = st
        except kubeclient.ApiError as e:
            if e.status not in (404, 409):
                log(f"pod {self.key}: status update: {e}")

    def terminate(self, grace, delete_from_api):
        """Runs in its own thread: SIGTERM, wait up to grace seconds, SIGKILL, sandbox gone, pod deleted."""
        procs = [c.proc for c in self.init + self.containers if c.proc is not None]
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except OSError:
                pass
        deadline = time.time() + grace
        while time.time() < deadline and any(p.poll() is None for p in procs):
            time.sleep(0.1)
        for p in procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                p.wait()
        for c in self.init + self.containers:
            if c.proc is not None:
                c.proc.poll()
        self.teardown_sandbox()
        log(f"pod {self.key}: stopped")
        if delete_from_api:
            try:
                self.node.client.delete(f"/api/v1/namespaces/{self.ns}/pods/{self.name}",
                                        {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                                         "preconditions": {"uid": self.uid}})
            except kubeclient.ApiError as e:
                if e.status not in (404, 409):
                    log(f"pod {self.key}: delete: {e}")
        self.node.events.put(("gone", self.uid))


def log_sections(path):
    """The container instances' outputs in a log file, oldest first (split at LOG_MARKER lines)."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return []
    sections, cur = [], None
    for line in data.splitlines(keepends=True):
        if line.startswith(LOG_MARKER.encode()):
            cur = []
            sections.append(cur)
        elif cur is not None:
            cur.append(line)
    return [b"".join(x) for x in sections]


def serve_logs(node):
    """The slice of kubelet's API that `kubectl logs` uses: GET /containerLogs/<ns>/<pod>/<container> with
    tailLines, limitBytes, previous and follow. TLS; the client (the API server) must present a certificate
    of the environment's CA. Everything else answers 404."""
    import http.server
    import socketserver
    import urllib.parse

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # the body ends when the connection closes (follow streams)

        def log_message(self, fmt, *args):
            pass

        def fail(self, code, msg):
            body = (msg + "\n").encode()
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            u = urllib.parse.urlsplit(self.path)
            q = urllib.parse.parse_qs(u.query)
            parts = u.path.strip("/").split("/")
            if u.path == "/healthz":
                return self.fail(200, "ok")
            if len(parts) != 4 or parts[0] != "containerLogs":
                return self.fail(404, "the node stand-in serves only /containerLogs")
            ns, pod, cname = parts[1:]
            rt = next((r for r in list(node.pods.values()) if r.ns == ns and r.name == pod), None)
            if rt is not None:
                d = rt.dir
            else:
                cands = [os.path.join(node.state_dir, "pods", e) for e in
                         os.listdir(os.path.join(node.state_dir, "pods")) if e.startswith(f"{ns}_{pod}_")]
                if not cands:
                    return self.fail(404, f"pod {ns}/{pod} not found on this node")
                d = max(cands, key=os.path.getmtime)
            path = os.path.join(d, "logs", f"{cname}.log")
            sections = log_sections(path)
            previous = q.get("previous", ["false"])[0] == "true"
            if previous:
                if len(sections) < 2:
                    return self.fail(400, f"previous terminated container {cname} in pod {pod} not found")
                data = sections[-2]
            else:
                if not sections:
                    return self.fail(400, f"container {cname} in pod {ns}/{pod} has not started")
                data = sections[-1]
            tail = q.get("tailLines", [None])[0]
            if tail is not None and tail.isdigit():
                lines = data.splitlines(keepends=True)
                data = b"".join(lines[-int(tail):]) if int(tail) else b""
            limit = q.get("limitBytes", [None])[0]
            if limit is not None and limit.isdigit():
                data = data[:int(limit)]
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(data)
            if previous or q.get("follow", ["false"])[0] != "true":
                return
            # follow: stream what the current instance appends until it exits or the client goes away
            offset = os.path.getsize(path)
            while True:
                time.sleep(0.5)
                try:
                    with open(path, "rb") as f:
                        f.seek(offset)
                        more = f.read()
                except OSError:
                    return
                if more:
                    cut = more.find(LOG_MARKER.encode())
                    chunk = more if cut < 0 else more[:cut]
                    self.wfile.write(chunk)
                    self.wfile.flush()
                    offset += len(chunk)
                    if cut >= 0:
                        return
                cur = next((r for r in list(node.pods.values()) if r.ns == ns and r.name == pod), None)
                c = next((x for x in (cur.containers + cur.init) if x.name == cname), None) if cur else None
                if c is None or c.proc is None:
                    return

    class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    srv = S((str(node.host_ip), node.kubelet_port), H)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(node.kubelet_cert, node.kubelet_key)
    ctx.load_verify_locations(node.ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    threading.Thread(target=srv.serve_forever, daemon=True, name="kubelet-logs").start()
    log(f"serving container logs (kubectl logs) on {node.host_ip}:{node.kubelet_port}")


class Node:
    def __init__(self, a):
        self.client = kubeclient.Client(a.server, a.ca, a.cert, a.key)
        self.name = a.node_name
        self.net = ipaddress.ip_network(a.pod_cidr)
        self.host_ip = ipaddress.ip_address(a.host_ip) if a.host_ip else self.net[1]
        self.bridge = a.bridge
        self.api_port = a.api_port
        self.state_dir = a.state_dir
        self.images_file = a.images
        self.build_dir_file = a.build_dir_file
        self.images = load_images(a.images)  # fails early on a malformed table
        self.ip = shutil.which("ip") or "/usr/sbin/ip"
        self.unshare = shutil.which("unshare") or "/usr/bin/unshare"
        self.pods = {}          # uid -> PodRuntime
        self.ips = {}           # uid -> ip
        self.ips_lock = threading.Lock()
        self.next_ip = 0
        self.events = queue.Queue()
        self.stop = threading.Event()
        self.mountpoints_file = os.path.join(self.state_dir, "created-dirs")
        self.kubelet_port = a.kubelet_port
        self.kubelet_cert, self.kubelet_key, self.ca = a.kubelet_cert, a.kubelet_key, a.ca
        self.created = set()

    def image_table(self):
        """Re-read at every container start: local-up may switch the build directory without a restart."""
        build_dir = None
        if self.build_dir_file:
            try:
                with open(self.build_dir_file) as f:
                    build_dir = f.read().strip() or None
            except OSError:
                pass
        return load_images(self.images_file, build_dir)

    def alloc_ip(self, uid):
        with self.ips_lock:
            if uid in self.ips:
                return self.ips[uid]
            # round robin over the range, so a deleted pod's address is not handed out again at once
            used = set(self.ips.values()) | {str(self.host_ip)}
            hosts = list(self.net.hosts())
            for i in range(len(hosts)):
                h = str(hosts[(self.next_ip + i) % len(hosts)])
                if h not in used:
                    self.next_ip = (self.next_ip + i + 1) % len(hosts)
                    self.ips[uid] = h
                    return h
        raise RuntimeError(f"pod network {self.net} exhausted")

    def free_ip(self, uid):
        with self.ips_lock:
            self.ips.pop(uid, None)

    def ensure_mountpoint(self, path):
        if os.path.isdir(path):
            return
        missing = []
        p = os.path.abspath(path)
        while not os.path.exists(p):
            missing.append(p)
            p = os.path.dirname(p)
        os.makedirs(path, exist_ok=True)
        with open(self.mountpoints_file, "a") as f:
            for m in missing:
                f.write(m + "\n")

    # ----- node object and lease -----
    def node_status(self):
        mem_kib = 8 << 20
        try:
            with open("/proc/meminfo") as f:
                mem_kib = int(f.readline().split()[1])
        except (OSError, ValueError, IndexError):
            pass
        cap = {"cpu": str(os.cpu_count() or 1), "memory": f"{mem_kib}Ki", "pods": "250",
               "ephemeral-storage": "10Gi"}
        t = now_iso()
        conds = [
            {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory"},
            {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure"},
            {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID"},
            {"type": "Ready", "status": "True", "reason": "KubeletReady",
             "message": "kacme node stand-in is posting ready status"},
        ]
        for c in conds:
            c["lastHeartbeatTime"] = t
            c.setdefault("lastTransitionTime", self.started)
        return {
            "capacity": cap, "allocatable": cap, "conditions": conds,
            "addresses": [{"type": "InternalIP", "address": str(self.host_ip)},
                          {"type": "Hostname", "address": self.name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.kubelet_port}},
            "nodeInfo": {"machineID": "kacme", "systemUUID": "kacme", "bootID": "kacme",
                         "kernelVersion": platform.release(), "osImage": "kacme node stand-in",
                         "containerRuntimeVersion": "kacme-standin://1", "kubeletVersion": self.kube_version,
                         "kubeProxyVersion": "", "operatingSystem": "linux", "architecture": "amd64"},
        }

    def register(self):
        self.started = now_iso()
        try:
            self.kube_version = self.client.get("/version").get("gitVersion", "v0.0.0")
        except Exception:
            self.kube_version = "v0.0.0"
        node = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": self.name,
                             "labels": {"kubernetes.io/hostname": self.name, "kubernetes.io/os": "linux",
                                        "kubernetes.io/arch": "amd64"}},
                "spec": {"podCIDR": str(self.net), "podCIDRs": [str(self.net)]},
                "status": self.node_status()}
        try:
            self.client.post("/api/v1/nodes", node)
            log(f"registered node {self.name}")
        except kubeclient.ApiError as e:
            if e.status != 409:
                raise
        self.client.patch(f"/api/v1/nodes/{self.name}/status", {"status": self.node_status()})
        self.node_uid = self.client.get(f"/api/v1/nodes/{self.name}")["metadata"]["uid"]

    def lease_loop(self):
        path = f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{self.name}"
        last_status = time.time()
        while not self.stop.is_set():
            try:
                r = self.client.patch(path, {"spec": {"holderIdentity": self.name, "leaseDurationSeconds": 40,
                                                      "renewTime": now_micro()}}, ok404=True)
                if r is None:
                    self.client.post("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", {
                        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                        "metadata": {"name": self.name, "namespace": "kube-node-lease",
                                     "ownerReferences": [{"apiVersion": "v1", "kind": "Node", "name": self.name,
                                                          "uid": self.node_uid}]},
                        "spec": {"holderIdentity": self.name, "leaseDurationSeconds": 40,
                                 "renewTime": now_micro()}})
                if time.time() - last_status > 60:
                    self.client.patch(f"/api/v1/nodes/{self.name}/status", {"status": self.node_status()})
                    last_status = time.time()
            except Exception as e:
                log(f"lease: {e}")
            self.stop.wait(10)

    # ----- pods -----
    def on_pod(self, typ, obj, old):
        self.events.put(("pod", Informer_key(obj)))

    def bind(self, pod):
        md = pod["metadata"]
        try:
            self.client.post(f"/api/v1/namespaces/{md['namespace']}/pods/{md['name']}/binding",
                             {"apiVersion": "v1", "kind": "Binding",
                              "metadata": {"name": md["name"], "uid": md["uid"]},
                              "target": {"apiVersion": "v1", "kind": "Node", "name": self.name}})
            log(f"bound pod {md['namespace']}/{md['name']}")
        except kubeclient.ApiError as e:
            if e.status not in (404, 409):
                log(f"bind {md['namespace']}/{md['name']}: {e}")

    def reconcile(self, key):
        pod = self.informer.store.get(key)
        # runtimes of pods that are gone, or replaced by a pod with the same name
        for rt in list(self.pods.values()):
            if rt.key == key and (pod is None or pod["metadata"]["uid"] != rt.uid) and not rt.terminating:
                self.start_termination(rt, 2, False)
        if pod is None:
            return
        md, spec = pod["metadata"], pod["spec"]
        if not spec.get("nodeName"):
            if not md.get("deletionTimestamp"):
                self.bind(pod)
            return
        if spec["nodeName"] != self.name:
            return
        uid = md["uid"]
        rt = self.pods.get(uid)
        if md.get("deletionTimestamp"):
            if rt is None:
                threading.Thread(target=self.delete_now, args=(pod,), daemon=True).start()
            elif not rt.terminating:
                grace = md.get("deletionGracePeriodSeconds", spec.get("terminationGracePeriodSeconds", 30))
                self.start_termination(rt, min(int(grace or 0), 30), True)
            return
        if rt is None:
            if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
                return
            rt = PodRuntime(self, pod)
            self.pods[uid] = rt
            log(f"pod {rt.key}: admitted")
        rt.pod = pod

    def delete_now(self, pod):
        md = pod["metadata"]
        try:
            self.client.delete(f"/api/v1/namespaces/{md['namespace']}/pods/{md['name']}",
                               {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                                "preconditions": {"uid": md["uid"]}})
        except kubeclient.ApiError as e:
            if e.status not in (404, 409):
                log(f"delete {md['namespace']}/{md['name']}: {e}")

    def start_termination(self, rt, grace, delete_from_api):
        rt.terminating = True
        log(f"pod {rt.key}: terminating (grace {grace}s)")
        threading.Thread(target=rt.terminate, args=(grace, delete_from_api), daemon=True).start()

    def cleanup_stale(self):
        r = run([self.ip, "netns", "list"], check=False)
        for line in r.stdout.splitlines():
            ns = line.split()[0] if line.split() else ""
            if ns.startswith(NETNS_PREFIX):
                pids = run([self.ip, "netns", "pids", ns], check=False).stdout.split()
                for p in pids:
                    try:
                        os.kill(int(p), signal.SIGKILL)
                    except (OSError, ValueError):
                        pass
                run([self.ip, "netns", "del", ns], check=False)
                log(f"removed stale network namespace {ns}")

    def run(self):
        os.makedirs(os.path.join(self.state_dir, "pods"), exist_ok=True)
        self.cleanup_stale()
        if self.kubelet_port:
            serve_logs(self)
        for attempt in range(60):
            try:
                self.register()
                break
            except Exception as e:  # API server busy or restarting: retry for a minute
                if attempt == 59:
                    raise
                log(f"registering node {self.name}: {e!r}; retrying")
                time.sleep(1)
        threading.Thread(target=self.lease_loop, daemon=True, name="lease").start()
        self.informer = kubeclient.Informer(self.client, "/api/v1/pods", self.on_pod, log).start()
        log(f"node {self.name} ready: pod network {self.net}, host side {self.host_ip} on {self.bridge}")
        while not self.stop.is_set():
            keys = set()
            try:
                ev = self.events.get(timeout=0.5)
                while True:
                    if ev[0] == "pod":
                        keys.add(ev[1])
                    elif ev[0] == "gone":
                        self.pods.pop(ev[1], None)
                    ev = self.events.get_nowait()
            except queue.Empty:
                pass
            for k in keys:
                try:
                    self.reconcile(k)
                except Exception as e:
                    log(f"reconcile {k}: {e!r}")
            now = time.time()
            for rt in list(self.pods.values()):
                if rt.terminating:
                    continue
                try:
                    rt.tick(now)
                    rt.push_status()
                except Exception as e:
                    log(f"pod {rt.key}: {e!r}")


def Informer_key(obj):
    return kubeclient.Informer.key(obj)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--server", required=True, help="API server URL (https://127.0.0.1:6443)")
    ap.add_argument("--ca", required=True)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--node-name", default="kacme-node")
    ap.add_argument("--pod-cidr", required=True)
    ap.add_argument("--host-ip", default="", help="host side of the pod network (default: first address)")
    ap.add_argument("--bridge", required=True)
    ap.add_argument("--api-port", type=int, required=True, help="API server port reachable from pods")
    ap.add_argument("--state-dir", required=True)
    ap.add_argument("--images", required=True, help="image table: <repository> <binary> per line")
    ap.add_argument("--build-dir-file", default="", help="file holding KACME_BUILD_DIR (re-read per start)")
    ap.add_argument("--kubelet-port", type=int, default=0,
                    help="serve kubelet's /containerLogs (kubectl logs) on host-ip:PORT over TLS (0: off)")
    ap.add_argument("--kubelet-cert", default="")
    ap.add_argument("--kubelet-key", default="")
    a = ap.parse_args()
    node = Node(a)

    def bye(sig, frm):
        node.stop.set()
    signal.signal(signal.SIGTERM, bye)
    signal.signal(signal.SIGINT, bye)
    node.run()
    log("stopping (pod processes are left to hack/local-down.sh, as kubelet leaves containers running)")


if __name__ == "__main__":
    main()
