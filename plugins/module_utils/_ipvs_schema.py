# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

# This module is private to this collection: do not use it from elsewhere.
# Its API can change at any time.

"""The numbers of the IPVS generic-netlink family, from the Linux uapi header ``include/uapi/linux/ip_vs.h``.

Commands, attribute numbers (top level, service, real server, daemon, counters, info), flags,
daemon states and name lengths; nothing else. The layout of each attribute (its type and byte
order) is the codec's business (_ipvs_codec), checked against the kernel's ``ip_vs_ctl.c``.
"""

from __future__ import annotations

IPVS_GENL_NAME = "IPVS"
IPVS_GENL_VERSION = 1

# Commands (enum, IPVS_CMD_UNSPEC = 0).
IPVS_CMD_NEW_SERVICE = 1
IPVS_CMD_SET_SERVICE = 2
IPVS_CMD_DEL_SERVICE = 3
IPVS_CMD_GET_SERVICE = 4
IPVS_CMD_NEW_DEST = 5
IPVS_CMD_SET_DEST = 6
IPVS_CMD_DEL_DEST = 7
IPVS_CMD_GET_DEST = 8
IPVS_CMD_NEW_DAEMON = 9
IPVS_CMD_DEL_DAEMON = 10
IPVS_CMD_GET_DAEMON = 11
IPVS_CMD_SET_CONFIG = 12
IPVS_CMD_GET_CONFIG = 13
IPVS_CMD_SET_INFO = 14  # only the command of a GET_INFO reply
IPVS_CMD_GET_INFO = 15
IPVS_CMD_ZERO = 16
IPVS_CMD_FLUSH = 17

COMMAND_NAMES = {
    IPVS_CMD_NEW_SERVICE: "NEW_SERVICE",
    IPVS_CMD_SET_SERVICE: "SET_SERVICE",
    IPVS_CMD_DEL_SERVICE: "DEL_SERVICE",
    IPVS_CMD_GET_SERVICE: "GET_SERVICE",
    IPVS_CMD_NEW_DEST: "NEW_DEST",
    IPVS_CMD_SET_DEST: "SET_DEST",
    IPVS_CMD_DEL_DEST: "DEL_DEST",
    IPVS_CMD_GET_DEST: "GET_DEST",
    IPVS_CMD_NEW_DAEMON: "NEW_DAEMON",
    IPVS_CMD_DEL_DAEMON: "DEL_DAEMON",
    IPVS_CMD_GET_DAEMON: "GET_DAEMON",
    IPVS_CMD_SET_CONFIG: "SET_CONFIG",
    IPVS_CMD_GET_CONFIG: "GET_CONFIG",
    IPVS_CMD_SET_INFO: "SET_INFO",
    IPVS_CMD_GET_INFO: "GET_INFO",
    IPVS_CMD_ZERO: "ZERO",
    IPVS_CMD_FLUSH: "FLUSH",
}

# Top-level attributes of a command (IPVS_CMD_ATTR_*).
IPVS_CMD_ATTR_SERVICE = 1  # nested IPVS_SVC_ATTR_*
IPVS_CMD_ATTR_DEST = 2  # nested IPVS_DEST_ATTR_*
IPVS_CMD_ATTR_DAEMON = 3  # nested IPVS_DAEMON_ATTR_*
IPVS_CMD_ATTR_TIMEOUT_TCP = 4
IPVS_CMD_ATTR_TIMEOUT_TCP_FIN = 5
IPVS_CMD_ATTR_TIMEOUT_UDP = 6

# A virtual service (IPVS_SVC_ATTR_*).
IPVS_SVC_ATTR_AF = 1
IPVS_SVC_ATTR_PROTOCOL = 2
IPVS_SVC_ATTR_ADDR = 3
IPVS_SVC_ATTR_PORT = 4
IPVS_SVC_ATTR_FWMARK = 5
IPVS_SVC_ATTR_SCHED_NAME = 6
IPVS_SVC_ATTR_FLAGS = 7
IPVS_SVC_ATTR_TIMEOUT = 8
IPVS_SVC_ATTR_NETMASK = 9
IPVS_SVC_ATTR_STATS = 10  # nested IPVS_STATS_ATTR_*
IPVS_SVC_ATTR_PE_NAME = 11
IPVS_SVC_ATTR_STATS64 = 12  # nested IPVS_STATS_ATTR_*, every counter 64-bit

# A real server, "destination" to the kernel (IPVS_DEST_ATTR_*).
IPVS_DEST_ATTR_ADDR = 1
IPVS_DEST_ATTR_PORT = 2
IPVS_DEST_ATTR_FWD_METHOD = 3
IPVS_DEST_ATTR_WEIGHT = 4
IPVS_DEST_ATTR_U_THRESH = 5
IPVS_DEST_ATTR_L_THRESH = 6
IPVS_DEST_ATTR_ACTIVE_CONNS = 7
IPVS_DEST_ATTR_INACT_CONNS = 8
IPVS_DEST_ATTR_PERSIST_CONNS = 9
IPVS_DEST_ATTR_STATS = 10
IPVS_DEST_ATTR_ADDR_FAMILY = 11  # kernels from 4.2 on
IPVS_DEST_ATTR_STATS64 = 12
IPVS_DEST_ATTR_TUN_TYPE = 13  # kernels from 5.2 on
IPVS_DEST_ATTR_TUN_PORT = 14
IPVS_DEST_ATTR_TUN_FLAGS = 15  # kernels from 5.3 on

# A connection synchronisation daemon (IPVS_DAEMON_ATTR_*).
IPVS_DAEMON_ATTR_STATE = 1
IPVS_DAEMON_ATTR_MCAST_IFN = 2
IPVS_DAEMON_ATTR_SYNC_ID = 3
IPVS_DAEMON_ATTR_SYNC_MAXLEN = 4  # kernels from 4.3 on, like the four below
IPVS_DAEMON_ATTR_MCAST_GROUP = 5
IPVS_DAEMON_ATTR_MCAST_GROUP6 = 6
IPVS_DAEMON_ATTR_MCAST_PORT = 7
IPVS_DAEMON_ATTR_MCAST_TTL = 8

# Counters, nested in a service's or a real server's STATS / STATS64 (IPVS_STATS_ATTR_*), in the order of STATS_KEYS.
IPVS_STATS_ATTR_CONNS = 1
IPVS_STATS_ATTR_INPKTS = 2
IPVS_STATS_ATTR_OUTPKTS = 3
IPVS_STATS_ATTR_INBYTES = 4  # 64-bit in STATS too
IPVS_STATS_ATTR_OUTBYTES = 5  # 64-bit in STATS too
IPVS_STATS_ATTR_CPS = 6
IPVS_STATS_ATTR_INPPS = 7
IPVS_STATS_ATTR_OUTPPS = 8
IPVS_STATS_ATTR_INBPS = 9
IPVS_STATS_ATTR_OUTBPS = 10
IPVS_STATS_ATTR_PAD = 11  # alignment padding before a 64-bit counter: ignored
STATS_KEYS = ("conns", "inpkts", "outpkts", "inbytes", "outbytes", "cps", "inpps", "outpps", "inbps", "outbps")

# The attributes of a GET_INFO reply (IPVS_INFO_ATTR_*): their numbers collide with IPVS_CMD_ATTR_*.
IPVS_INFO_ATTR_VERSION = 1
IPVS_INFO_ATTR_CONN_TAB_SIZE = 2

# Service flags (IP_VS_SVC_F_*).
IP_VS_SVC_F_PERSISTENT = 0x0001
IP_VS_SVC_F_HASHED = 0x0002  # kernel-internal: never sent, present on every reply
IP_VS_SVC_F_ONEPACKET = 0x0004
IP_VS_SVC_F_SCHED1 = 0x0008
IP_VS_SVC_F_SCHED2 = 0x0010
IP_VS_SVC_F_SCHED3 = 0x0020

# Sync daemon states (IP_VS_STATE_*).
IP_VS_STATE_MASTER = 0x0001
IP_VS_STATE_BACKUP = 0x0002

# Longest names the kernel takes (the terminating NUL included).
IP_VS_SCHEDNAME_MAXLEN = 16
IP_VS_PENAME_MAXLEN = 16
IP_VS_IFNAME_MAXLEN = 16
