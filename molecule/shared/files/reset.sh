#!/bin/sh
# Resets what a molecule scenario made on the lab node: the test hosts, a background client loop (by the pid it wrote),
# the IPVS table and timeouts, the nft table inet lvs_ipvs, and the files and restore unit of the lvs.ipvs roles.
set -u
cd /root/lvs-lab || exit 1
if [ -s loop.pid ]; then
    kill "$(cat loop.pid)" 2>/dev/null || true
    rm -f loop.pid
fi
python3 lab_net.py down
ipvsadm -C
ipvsadm --set 900 120 300
nft delete table inet lvs_ipvs 2>/dev/null || true
# No daemon reload (a minute in a busy emulated guest): the next `systemctl enable` of the role reloads.
rm -f /etc/systemd/system/sysinit.target.wants/lvs-ipvs-restore.service /etc/systemd/system/lvs-ipvs-restore.service
rm -rf /etc/lvs-ipvs /etc/modules-load.d/lvs-ipvs.conf /etc/sysctl.d/60-lvs-ipvs.conf loop.log hook.log shrink.log
# The real_server scenario: its unit (which holds the VIPs on the dummy lvsvip), its files, the ARP sysctls.
if [ -e /etc/systemd/system/lvs-real-server.service ]; then
    systemctl stop lvs-real-server.service >/dev/null 2>&1 || true
    systemctl --no-reload disable lvs-real-server.service >/dev/null 2>&1 || true
    rm -f /etc/systemd/system/lvs-real-server.service /etc/sysctl.d/60-lvs-real-server.conf /etc/modules-load.d/lvs-real-server.conf
    ip link del lvsvip 2>/dev/null || true
    sysctl -q -w net.ipv4.conf.all.arp_ignore=0 net.ipv4.conf.all.arp_announce=0
fi
echo "lab node reset"
