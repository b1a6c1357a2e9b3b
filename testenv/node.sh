# The node of `testenv/start --node`, sourced by start and stop (which
# define log, die and the state variables). See README.md, "The
# node". Everything of the node runs inside the network namespace
# $BINDERY_NODE_NETNS: containerd and its pods, the CNI bridge, kubelet,
# kube-proxy, kube-controller-manager, kube-scheduler; the machine's own
# namespace gets one veth end with one address and no netfilter rule.

node_dir="$state/node"
node_bins="$BINDERY_TESTENV_CACHE/node-$KUBE_VERSION"
# The machine's end of the veth pair (at most 15 characters).
node_veth="bn$(printf '%s' "$BINDERY_NODE_NETNS" | cksum | cut -d' ' -f1)"
node_veth="${node_veth:0:15}"
# Seconds to wait for containerd, for the node to be Ready, for CoreDNS.
node_timeout="${BINDERY_NODE_TIMEOUT:-180}"
node_ctrd_sock="$node_dir/containerd/containerd.sock"

# The link's two addresses: .1 (the machine's end) and .2 (the node's).
node_link_addrs() {
  local base="${BINDERY_NODE_LINK%/*}" last
  last="${base##*.}"
  node_host_ip="${base%.*}.$(( last + 1 ))"
  node_ip="${base%.*}.$(( last + 2 ))"
}
node_link_addrs

node_service_ip() {  # node_service_ip N: the Nth address of the service range
  local base="${BINDERY_TESTENV_SERVICE_CIDR%/*}"
  echo "${base%.*}.$1"
}

# ---------------------------------------------------------------- binaries and images

# kubelet, kube-proxy, kube-controller-manager and kube-scheduler: built
# once by testenv/setup (its `node` list) into the cache.
node_bin() { echo "$node_bins/$1-$KUBE_VERSION"; }

# The images to load, one `<archive> <name>` a line, in
# $node_dir/image-archives: the node's own (testenv/node/images; the first
# is the pause image), then Bindery's: built from the working tree by
# deploy/image/build (around $BINDERY_NODE_BINARY when set, e.g. the binary
# the tests built), or $BINDERY_NODE_IMAGE (`<archive> <name>`, or `none`).
node_build_images() {
  local t0 tag build=("$here/../deploy/image/build" --oci-archive "$node_dir/bindery-image.tar")
  t0=$(date +%s)
  "$here/node/images" > "$node_dir/image-archives"
  [ -z "${BINDERY_NODE_BINARY:-}" ] || build+=(--binary "$BINDERY_NODE_BINARY")
  case "${BINDERY_NODE_IMAGE:-}" in
    none) ;;
    "")
      log "building the Bindery image from the working tree (deploy/image/build)"
      tag="$("${build[@]}" | tail -1)"
      case "$tag" in */*) ;; *) tag="docker.io/library/$tag" ;; esac
      echo "$node_dir/bindery-image.tar $tag" >> "$node_dir/image-archives" ;;
    *) echo "$BINDERY_NODE_IMAGE" >> "$node_dir/image-archives" ;;
  esac
  log "images ready in $(( $(date +%s) - t0 ))s"
}

# ---------------------------------------------------------------- network

# The node's namespace and the veth pair; before the apiserver, which binds
# the machine's end.
node_network_up() {
  [ "$(id -u)" = 0 ] || die "--node needs root (network namespaces, containerd, cgroups)"
  if ip netns list | grep -qw -- "$BINDERY_NODE_NETNS"; then
    die "network namespace $BINDERY_NODE_NETNS exists (another testenv? set BINDERY_NODE_NETNS)"
  fi
  if ip -o addr | grep -qE "inet ($node_host_ip|$node_ip)/"; then
    die "$node_host_ip or $node_ip is already on this machine (set BINDERY_NODE_LINK to a free /30)"
  fi
  ip netns add "$BINDERY_NODE_NETNS"
  echo "$BINDERY_NODE_NETNS" > "$node_dir/netns"
  echo "$node_veth" > "$node_dir/veth"
  ip link add "$node_veth" type veth peer name eth0 netns "$BINDERY_NODE_NETNS"
  ip addr add "$node_host_ip/30" dev "$node_veth"
  ip link set "$node_veth" up
  ip -n "$BINDERY_NODE_NETNS" addr add "$node_ip/30" dev eth0
  ip -n "$BINDERY_NODE_NETNS" link set eth0 up
  ip -n "$BINDERY_NODE_NETNS" link set lo up
  # No default route: nothing of the cluster's leaves the node but to the
  # machine's end of the link. The pods' bridge is made here (the CNI bridge
  # plugin takes it as it is) so that the service range can be routed to
  # it: the node's own connections to a ClusterIP then reach kube-proxy's
  # DNAT, and those it has no rule for end on the bridge.
  local gw="${BINDERY_NODE_POD_CIDR%/*}"
  gw="${gw%.*}.$(( ${gw##*.} + 1 ))/${BINDERY_NODE_POD_CIDR#*/}"
  ip -n "$BINDERY_NODE_NETNS" link add cni0 type bridge
  ip -n "$BINDERY_NODE_NETNS" addr add "$gw" dev cni0
  ip -n "$BINDERY_NODE_NETNS" link set cni0 up
  ip -n "$BINDERY_NODE_NETNS" route add "$BINDERY_TESTENV_SERVICE_CIDR" dev cni0
  in_node sysctl -qw net.ipv4.ip_forward=1
  # Pod to Service to a pod on the same bridge: the reply must pass the
  # node's conntrack to be un-NATed (br_netfilter, per namespace).
  in_node sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null ||
    log "net.bridge.bridge-nf-call-iptables is not available in the node's namespace"
}

# in_node CMD...: CMD in the node's network namespace, nothing else changed
# (nsenter, not `ip netns exec`: that one makes a new mount namespace, and
# the kubelet's volume mounts must be seen by containerd and runc).
in_node() { nsenter --net="/run/netns/$BINDERY_NODE_NETNS" -- "$@"; }

# ---------------------------------------------------------------- pki

node_generate_pki() {
  (
    cd "$pki"
    umask 077
    # The apiserver's client certificate for the kubelet's API (logs, exec).
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
      -keyout kubelet-client.key -out kubelet-client.csr \
      -subj "/O=system:masters/CN=kube-apiserver-kubelet-client" 2>/dev/null
    printf 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' \
      > kubelet-client.ext
    openssl x509 -req -in kubelet-client.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
      -days 3650 -sha256 -extfile kubelet-client.ext -out kubelet-client.crt 2>/dev/null
    rm -f kubelet-client.csr kubelet-client.ext ca.srl
  )
}

# ---------------------------------------------------------------- processes

# node_daemon NAME CMD...: start CMD in the node's namespace, in its own
# session, logging to $node_dir/NAME.log, its PID in $node_dir/NAME.pid.
node_daemon() {
  local name="$1"; shift
  setsid nsenter --net="/run/netns/$BINDERY_NODE_NETNS" -- "$@" \
    </dev/null >"$node_dir/$name.log" 2>&1 9>&- &
  echo $! > "$node_dir/$name.pid"
}

node_cgroup_up() {
  local h
  for h in /sys/fs/cgroup/*/; do
    [ -e "$h/cgroup.procs" ] || continue
    case "$h" in */unified/) continue ;; esac
    mkdir -p "$h$BINDERY_NODE_CGROUP"
    if [ -e "$h/cpuset.cpus" ]; then
      cat "$h/cpuset.cpus" > "$h$BINDERY_NODE_CGROUP/cpuset.cpus"
      cat "$h/cpuset.mems" > "$h$BINDERY_NODE_CGROUP/cpuset.mems"
    fi
  done
}

node_write_configs() {
  local dns_ip host_max
  dns_ip="$(node_service_ip 10)"
  mkdir -p "$node_dir"/{containerd,cni/net.d,cni/ipam,kubelet,pod-logs}
  # Containers get at most the machine's own open-files limit: without
  # CAP_SYS_RESOURCE, runc cannot raise it.
  host_max="$(ulimit -Hn)"
  [ "$host_max" = unlimited ] && host_max=1048576
  ctr_nofile=$(( host_max < 65536 ? host_max : 65536 ))
  cat > "$node_dir/containerd/config.toml" <<EOF
version = 2
root = "$node_dir/containerd/root"
state = "$node_dir/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp"]

[grpc]
  address = "$node_ctrd_sock"

[ttrpc]
  address = "$node_dir/containerd/containerd.sock.ttrpc"

[plugins."io.containerd.internal.v1.opt"]
  path = "$node_dir/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "$pause_name"
  # The pods' namespaces under the state dir, not in /run/netns.
  netns_mounts_under_state_dir = true
  # Without CAP_SYS_RESOURCE a container cannot get a lower oom_score_adj
  # than containerd's own.
  restrict_oom_score_adj = true
  disable_apparmor = true
  base_runtime_spec = "$node_dir/containerd/base-spec.json"
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "$(command -v runc)"
        # runc's state under ours, not in /run/containerd/runc.
        Root = "$node_dir/containerd/runc"
        SystemdCgroup = false
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$node_dir/cni/net.d"
EOF
  # containerd's default spec with the open-files limit set.
  ctr oci spec | jq --argjson n "$ctr_nofile" \
    '.process.rlimits = [{type: "RLIMIT_NOFILE", hard: $n, soft: $n}]' \
    > "$node_dir/containerd/base-spec.json"

  cat > "$node_dir/cni/net.d/10-bindery.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$BINDERY_NODE_NETNS",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "cni0",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$node_dir/cni/ipam",
        "ranges": [[{"subnet": "$BINDERY_NODE_POD_CIDR"}]],
        "routes": [{"dst": "0.0.0.0/0"}]
      }
    }
  ]
}
EOF

  cat > "$node_dir/kubelet/config.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: $node_ip
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
containerRuntimeEndpoint: unix://$node_ctrd_sock
cgroupDriver: cgroupfs
cgroupRoot: $BINDERY_NODE_CGROUP
# This machine: swap allowed, cgroup v1, no iptables chains of the kubelet's.
failSwapOn: false
failCgroupV1: false
makeIPTablesUtilChains: false
# A pod's ConfigMap volumes are brought up to date on its periodic sync:
# every 10 s here, so that the tests of a reload through the volume wait
# seconds, not the default minute.
syncFrequency: 10s
clusterDomain: cluster.local
clusterDNS: [$dns_ip]
# No upstream resolver: the cluster's names only.
resolvConf: ""
podLogsDir: $node_dir/pod-logs
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $pki/ca.crt}
authorization:
  mode: Webhook
# A shared test machine: no eviction or image GC for the disk others fill
# (the images cannot be pulled again).
evictionHard: {memory.available: "100Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%"}
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
serializeImagePulls: false
EOF

  cat > "$node_dir/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: $kubeconfig
hostnameOverride: $BINDERY_NODE_NAME
mode: iptables
clusterCIDR: $BINDERY_NODE_POD_CIDR
bindAddress: $node_ip
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
# Leave the conntrack sysctls alone: some are not per namespace.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
EOF
}

# node_import ARCHIVE NAME: an OCI archive into containerd's CRI namespace.
node_import() {
  local names
  ctr -a "$node_ctrd_sock" -n k8s.io images import --snapshotter overlayfs "$1" >/dev/null
  names="$(ctr -a "$node_ctrd_sock" -n k8s.io images ls -q)"
  grep -qxF "$2" <<< "$names" || die "containerd has no image $2 after importing $1"
}

# The control plane's part of the node: the apiserver's flags.
node_apiserver_args() {
  apiserver_args+=(
    --bind-address="$node_host_ip"
    --advertise-address="$node_host_ip"
    --endpoint-reconciler-type=lease
    --kubelet-client-certificate="$pki/kubelet-client.crt"
    --kubelet-client-key="$pki/kubelet-client.key"
    --kubelet-preferred-address-types=InternalIP
  )
}

node_start() {
  local t0 images line
  t0=$(date +%s%N)
  node_cgroup_up
  echo "$BINDERY_NODE_CGROUP" > "$node_dir/cgroup"
  images="$(cat "$node_dir/image-archives")"
  pause_name="$(echo "$images" | awk 'NR==1 {print $2}')"
  node_write_configs

  node_daemon containerd containerd --config "$node_dir/containerd/config.toml"
  local deadline=$(( $(date +%s) + node_timeout ))
  until ctr -a "$node_ctrd_sock" version >/dev/null 2>&1; do
    pid_alive "$node_dir/containerd.pid" containerd || { log "containerd exited"; return 1; }
    [ "$(date +%s)" -lt "$deadline" ] || { log "containerd not up after ${node_timeout}s"; return 1; }
    sleep 0.2
  done
  while read -r line; do
    node_import ${line}
  done <<< "$images"
  echo "$images" | awk '{print $2}' > "$node_dir/images"

  node_daemon kube-controller-manager "$(node_bin kube-controller-manager)" \
    --kubeconfig="$kubeconfig" \
    --service-account-private-key-file="$pki/sa.key" \
    --root-ca-file="$pki/ca.crt" \
    --service-cluster-ip-range="$BINDERY_TESTENV_SERVICE_CIDR" \
    --leader-elect=false \
    --secure-port=0 \
    --controllers='*,-bootstrapsigner,-tokencleaner,-csrsigning,-csrapproving,-nodeipam'
  node_daemon kube-scheduler "$(node_bin kube-scheduler)" \
    --kubeconfig="$kubeconfig" \
    --leader-elect=false \
    --secure-port=0
  node_daemon kubelet "$(node_bin kubelet)" \
    --config="$node_dir/kubelet/config.yaml" \
    --kubeconfig="$kubeconfig" \
    --root-dir="$node_dir/kubelet" \
    --hostname-override="$BINDERY_NODE_NAME" \
    --node-ip="$node_ip"
  node_daemon kube-proxy "$(node_bin kube-proxy)" --config="$node_dir/kube-proxy.yaml"

  until [ "$(kubectl --kubeconfig "$kubeconfig" get node "$BINDERY_NODE_NAME" \
      -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]; do
    local p
    for p in containerd kubelet kube-proxy kube-controller-manager kube-scheduler; do
      pid_alive "$node_dir/$p.pid" "$p" || { log "$p exited"; return 1; }
    done
    [ "$(date +%s)" -lt "$deadline" ] || { log "node $BINDERY_NODE_NAME not Ready after ${node_timeout}s"; return 1; }
    sleep 0.5
  done
  local ready_ms=$(( ($(date +%s%N) - t0) / 1000000 ))

  sed -e "s|@DNS_IP@|$(node_service_ip 10)|g" \
      -e "s|@IMAGE@|$(echo "$images" | awk 'NR==2 {print $2}')|g" \
      "$here/node/coredns.yaml" | kubectl --kubeconfig "$kubeconfig" apply -f - >/dev/null
  kubectl --kubeconfig "$kubeconfig" -n kube-system rollout status deployment/coredns \
    --timeout="${node_timeout}s" >/dev/null
  local dns_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
  log "node $BINDERY_NODE_NAME Ready in $((ready_ms / 1000)).$(printf '%03d' $((ready_ms % 1000)))s, CoreDNS ready at $((dns_ms / 1000)).$(printf '%03d' $((dns_ms % 1000)))s (namespace $BINDERY_NODE_NETNS, node IP $node_ip)"
  printf '%s\n' "$node_ip" > "$node_dir/node-ip"
  printf '%s\n' "$node_host_ip" > "$node_dir/host-ip"
}

node_alive() {
  local p
  [ -d "$node_dir" ] || return 1
  for p in containerd kubelet kube-proxy kube-controller-manager kube-scheduler; do
    pid_alive "$node_dir/$p.pid" "$p" || return 1
  done
}

# ---------------------------------------------------------------- teardown

# Every process in the node's cgroups: the pods' containers.
node_cgroup_pids() {
  local cg
  cg="$(cat "$node_dir/cgroup" 2>/dev/null)" || return 0
  [ -n "$cg" ] && [ -d "/sys/fs/cgroup/pids$cg" ] || return 0
  find "/sys/fs/cgroup/pids$cg" -name cgroup.procs -exec cat {} + 2>/dev/null | sort -u
}

# The containerd shims of this node's containerd (by its socket in their
# command line).
node_shim_pids() {
  local f pid
  for f in /proc/[0-9]*/cmdline; do
    pid="${f#/proc/}"; pid="${pid%/cmdline}"
    # The process may be gone by now: its cmdline then reads as nothing.
    { tr '\0' ' ' < "$f"; } 2>/dev/null | grep -q "containerd-shim.* -address $node_ctrd_sock" && echo "$pid"
  done
  return 0
}

node_stop() {
  [ -d "$node_dir" ] || return 0
  local p pids cg h netns veth
  for p in kube-proxy kubelet kube-scheduler kube-controller-manager; do
    stop_pidfile "$node_dir/$p.pid" "$p"
  done
  # The containers through containerd, so that their shims exit and clean
  # up after themselves; then whatever is left in the node's cgroups and
  # the shims by force, then containerd.
  local sandboxes=""
  if pid_alive "$node_dir/containerd.pid" containerd; then
    local c ctr_=(ctr -a "$node_ctrd_sock" -n k8s.io)
    sandboxes="$("${ctr_[@]}" containers ls -q 2>/dev/null || true)"
    for c in $("${ctr_[@]}" tasks ls -q 2>/dev/null); do
      "${ctr_[@]}" tasks kill -a -s SIGKILL "$c" >/dev/null 2>&1 || true
    done
    # containerd's CRI deletes a task when it exits, and its shim then ends.
    for _ in $(seq 1 50); do
      [ -z "$("${ctr_[@]}" tasks ls -q 2>/dev/null)" ] && break
      sleep 0.1
    done
  fi
  for _ in 1 2 3; do
    pids="$(node_cgroup_pids)"
    [ -z "$pids" ] && break
    kill -KILL $pids 2>/dev/null || true
    sleep 0.3
  done
  pids="$(node_shim_pids)"
  [ -z "$pids" ] || kill -KILL $pids 2>/dev/null || true
  stop_pidfile "$node_dir/containerd.pid" containerd
  # Mounts under the state dir, deepest first: containers' root filesystems,
  # the kubelet's volumes, the pods' network namespaces.
  awk -v d="$state/" 'index($5, d) == 1 {print $5}' /proc/self/mountinfo |
    awk '{print length, $0}' | sort -rn | cut -d' ' -f2- |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
  cg="$(cat "$node_dir/cgroup" 2>/dev/null || true)"
  if [ -n "$cg" ]; then
    for h in /sys/fs/cgroup/*/; do
      [ -d "$h$cg" ] || continue
      find "$h$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true
    done
  fi
  netns="$(cat "$node_dir/netns" 2>/dev/null || true)"
  veth="$(cat "$node_dir/veth" 2>/dev/null || true)"
  [ -z "$veth" ] || ip link del "$veth" 2>/dev/null || true
  if [ -n "$netns" ]; then
    ip netns del "$netns" 2>/dev/null || true
  fi
  # libcni's result cache (its default place, which containerd 1.6 does not
  # let us move): this node's network's and its pods' loopback entries.
  [ -z "$netns" ] || rm -f /var/lib/cni/results/"$netns"-* 2>/dev/null || true
  for c in $sandboxes; do rm -f /var/lib/cni/results/*-"$c"-* 2>/dev/null || true; done
  # The shims' socket directory is fixed in containerd 1.6; left if in use.
  rmdir /run/containerd/s /run/containerd 2>/dev/null || true
}
