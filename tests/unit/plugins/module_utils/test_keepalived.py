# Copyright (c) lvs.ipvs contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

"""keepalived virtual_server blocks rendered from the model: the text, word for word, for each kind of service and check.

keepalived itself reads the same samples (keepalived_samples.py) in tests/integration/test_keepalived_config.py
(`keepalived --config-test`, in the lab, where keepalived is installed).
"""

from __future__ import annotations

import dataclasses
import re

import pytest

from ansible_collections.lvs.ipvs.plugins.module_utils._errors import OptionError
from ansible_collections.lvs.ipvs.plugins.module_utils._fields import FORWARDING, names
from ansible_collections.lvs.ipvs.plugins.module_utils._health import CHECK_TYPES, HealthCheck, check_pool, health_check_from_params
from ansible_collections.lvs.ipvs.plugins.module_utils._keepalived import (
    CHECKERS,
    LVS_METHODS,
    literal_pattern,
    quoted,
    render_virtual_servers,
    virtual_server_keys,
)
from ansible_collections.lvs.ipvs.plugins.module_utils._model import SCHEDULER_FLAGS, RealServer, Service, service_sort_key
from tests.unit.plugins.module_utils.keepalived_samples import KEEPALIVED_SAMPLES, entries

VIP = "198.51.100.1"
WEB = Service(family="ipv4", protocol="tcp", address=VIP, port=80, persistence_timeout=600, persistence_granularity=24)
RS11 = RealServer("192.0.2.11", 80)

# keepalived.conf(5) of keepalived 2.2.7: the keywords of the virtual_server block for the scheduler flags.
KEEPALIVED_FLAG_KEYWORDS = ("flag-1", "flag-2", "flag-3", "sh-port", "sh-fallback", "mh-port", "mh-fallback")


def test_the_names_cover_the_field_tables():
    assert set(LVS_METHODS) == set(names(FORWARDING))
    assert set(CHECKERS) == set(CHECK_TYPES)
    # The model's flag names are keepalived's keywords, written as they are.
    assert set(SCHEDULER_FLAGS) == set(KEEPALIVED_FLAG_KEYWORDS)


# ---------------------------------------------------------------------------------------------- whole blocks

# The checker block of every real server of a sample (the same for each: one check a service).
HTTP_GET_80 = r'''        HTTP_GET {
            connect_port 80
            connect_timeout 1
            retry 1
            delay_before_retry 1
            virtualhost www.example.com
            url {
                path "/health#x!y"
                status_code 200 204
                digest 9b3a0c85a887a256d6939da88aabd8cd
                regex "ok\\ \\\"x\\\"\\ \\\\\\ \\[a\\]\\$\\ \\#\\!"
            }
        }
'''
TCP_CHECK_80 = '''        TCP_CHECK {
            connect_port 80
            connect_timeout 3
            retry 2
            delay_before_retry 1
        }
'''
TCP_CHECK_5060 = '''        TCP_CHECK {
            connect_port 5060
            connect_timeout 3600
            retry 100
            delay_before_retry 3600
        }
'''
# What every sample's service says of its check, unless it sets quorum or the failure action.
SERVICE_CHECK_DEFAULTS = '''    inhibit_on_failure
    alpha
    quorum 1
    hysteresis 0
'''
EXPECTED = {
    "ipv4-http-sorry-quorum": r'''virtual_server 198.51.100.1 80 {
    protocol TCP
    lvs_sched sh
    sh-fallback
    sh-port
    persistence_timeout 600
    persistence_granularity 255.255.255.0
    lvs_method DR
    delay_loop 2
    inhibit_on_failure
    alpha
    quorum 2
    hysteresis 1
    sorry_server 192.0.2.99
    real_server 192.0.2.11 80 {
        weight 2
        lvs_method DR
        uthreshold 100
        lthreshold 10
''' + HTTP_GET_80 + r'''    }
    real_server 192.0.2.12 80 {
        weight 1
        lvs_method DR
''' + HTTP_GET_80 + r'''    }
    real_server 192.0.2.13 80 {
        weight 0
        lvs_method DR
''' + HTTP_GET_80 + r'''    }
}
''',
    "ipv6-https-nat": '''virtual_server 2001:db8::1 443 {
    protocol TCP
    lvs_sched mh
    mh-fallback
    mh-port
    persistence_timeout 300
    persistence_granularity 64
    lvs_method NAT
    delay_loop 5
''' + SERVICE_CHECK_DEFAULTS + '''    sorry_server 2001:db8::99 8443
    real_server 2001:db8:1::11 8443 {
        weight 1
        lvs_method NAT
        SSL_GET {
            connect_port 8443
            connect_timeout 3
            retry 2
            delay_before_retry 1
            virtualhost www.example.com
            enable_sni
            url {
                path "/"
                status_code 200
            }
        }
    }
}
''',
    "fwmark-tcp-tunnel-remove": '''virtual_server fwmark 8 {
    lvs_sched rr
    persistence_timeout 60
    lvs_method TUN type gue port 6080 csum
    delay_loop 5
    alpha
    quorum 1
    hysteresis 0
    sorry_server 192.0.2.99
    real_server 192.0.2.11 {
        weight 1
        lvs_method TUN type gue port 6080 csum
''' + TCP_CHECK_80 + '''    }
    real_server 192.0.2.12 {
        weight 1
        lvs_method TUN
''' + TCP_CHECK_80 + '''    }
    real_server 192.0.2.13 {
        weight 1
        lvs_method TUN type gre nocsum
''' + TCP_CHECK_80 + '''    }
    real_server 192.0.2.14 8080 {
        weight 1
        lvs_method NAT
''' + TCP_CHECK_80 + '''    }
}
''',
    "fwmark-ipv6-command": r'''virtual_server fwmark 9 {
    ip_family inet6
    lvs_sched wlc
    persistence_timeout 60
    persistence_granularity 64
    lvs_method DR
    delay_loop 5
''' + SERVICE_CHECK_DEFAULTS + r'''    real_server 2001:db8:1::11 {
        weight 1
        lvs_method DR
        MISC_CHECK {
            misc_path "/bin/sh -c 'exit 0' \\x #y"
            misc_timeout 10
            retry 0
            delay_before_retry 1
        }
    }
}
''',
    "udp-ops-flags-sip": '''virtual_server 198.51.100.2 5060 {
    protocol UDP
    lvs_sched wrr
    flag-1
    flag-3
    ops
    persistence_timeout 30
    persistence_engine sip
    lvs_method DR
    delay_loop 86400
''' + SERVICE_CHECK_DEFAULTS + '''    real_server 192.0.2.11 5060 {
        weight 0
        lvs_method DR
''' + TCP_CHECK_5060 + '''    }
    real_server 192.0.2.12 5060 {
        weight 1
        lvs_method DR
''' + TCP_CHECK_5060 + '''    }
}
''',
    "pcc-sctp": '''virtual_server 198.51.100.3 {
    protocol SCTP
    lvs_sched wlc
    persistence_timeout 300
    lvs_method DR
    delay_loop 5
''' + SERVICE_CHECK_DEFAULTS + '''    real_server 192.0.2.11 {
        weight 1
        lvs_method DR
        TCP_CHECK {
            connect_port 22
            connect_timeout 3
            retry 2
            delay_before_retry 1
        }
    }
}
''',
}


@pytest.mark.parametrize("name", sorted(KEEPALIVED_SAMPLES))
def test_each_sample_renders_word_for_word(name):
    assert render_virtual_servers(entries([KEEPALIVED_SAMPLES[name]])) == EXPECTED[name]


def test_blocks_come_in_ipvsadm_order_whatever_the_order_of_the_config():
    config = list(KEEPALIVED_SAMPLES.values())
    text = render_virtual_servers(entries(config))
    assert text == render_virtual_servers(entries(config[::-1]))
    # ipvsadm -S -n order: address services (IPv4 by protocol, address, port; then IPv6), then fwmarks; one blank line between.
    order = ["ipv4-http-sorry-quorum", "udp-ops-flags-sip", "pcc-sctp", "ipv6-https-nat", "fwmark-tcp-tunnel-remove", "fwmark-ipv6-command"]
    assert text == "\n".join(EXPECTED[name] for name in order)


def test_no_service_renders_nothing():
    assert render_virtual_servers([]) == ""


@pytest.mark.parametrize("quorum, hysteresis, weights", [(1, 0, (1, 1)), (2, 0, (1, 1)), (1, 1, (1, 1)), (2, 1, (2, 1, 0))])
def test_the_quorum_and_hysteresis_are_written_as_declared(quorum, hysteresis, weights):
    servers = [dataclasses.replace(RS11, address=f"192.0.2.{11 + index}", weight=weight) for index, weight in enumerate(weights)]
    check = HealthCheck("tcp", quorum=quorum, hysteresis=hysteresis)
    check_pool(check, WEB, servers)
    lines = [line.strip() for line in render_virtual_servers([(WEB, servers, check)]).splitlines()]
    assert [line for line in lines if line.split()[0] in ("quorum", "hysteresis")] == [f"quorum {quorum}", f"hysteresis {hysteresis}"]


@pytest.mark.parametrize("quorum, hysteresis, weights, total", [
    (3, 0, (1, 1), 2),   # keepalived would lower it, and its --config-test fails
    (3, 1, (1, 1, 1), 3),  # seen in the lab: the real servers never came back from the sorry server
    (2, 0, (1, 0), 1),   # a drained real server counts 0
])
def test_a_quorum_the_pool_cannot_reach_again_is_refused(quorum, hysteresis, weights, total):
    servers = [dataclasses.replace(RS11, address=f"192.0.2.{11 + index}", weight=weight) for index, weight in enumerate(weights)]
    with pytest.raises(OptionError) as caught:
        check_pool(HealthCheck("tcp", quorum=quorum, hysteresis=hysteresis), WEB, servers)
    assert caught.value.option == "health_check.quorum"
    assert caught.value.message.startswith(f"quorum {quorum} + hysteresis {hysteresis} is above {total}, the total weight of the real servers")
    assert caught.value.message.endswith(f"accepted: quorum + hysteresis at most {total}")


def test_the_sorry_server_port_is_written_only_for_nat():
    dr = HealthCheck("tcp", sorry_server=("192.0.2.99", 80))
    assert "    sorry_server 192.0.2.99\n" in render_virtual_servers([(WEB, [RS11], dr)])
    nat = HealthCheck("tcp", sorry_server=("192.0.2.99", 8080))
    assert "    sorry_server 192.0.2.99 8080\n" in render_virtual_servers([(WEB, [dataclasses.replace(RS11, forwarding="nat", port=8080)], nat)])


# ---------------------------------------------------------------------------------------------- quoting


@pytest.mark.parametrize("text, word", [
    ("/usr/bin/check", '"/usr/bin/check"'),
    ("a \\ b", '"a \\\\ b"'),
    ('say "hi"', '"say \\"hi\\""'),
    ("# not a comment !", '"# not a comment !"'),
])
def test_quoted_words_escape_backslash_and_double_quote(text, word):
    assert quoted(text) == word


@pytest.mark.parametrize("text, other", [
    ("ok", "OK"), ("a.b", "axb"), ("a*", "aaa"), ("a+", "aa"), ("a?", ""), ("(x)", "x"), ("x|y", "y"), ("^$", ""), ("[ab]", "a"),
    ("{1}", "1"), ("\\d", "5"), ("\\Qa\\E", "a"), ('say "hi"', "say hi"), ("# ! ü", "#  ü"),
])
def test_literal_patterns_match_their_text_only(text, other):
    # Every non-alphanumeric ASCII character escaped: a literal in PCRE, as in Python's re.
    pattern = literal_pattern(text)
    assert re.fullmatch(pattern, text)
    assert not re.fullmatch(pattern, other)


def test_a_check_of_every_kind_validates_before_rendering():
    for sample in KEEPALIVED_SAMPLES.values():
        service, servers, check = entries([sample])[0]
        assert health_check_from_params(sample["health_check"], service) == check
        check_pool(check, service, servers)


# ---------------------------------------------------------------------------------------------- the way back: which services


def test_the_services_of_rendered_blocks_read_back():
    # Every sample alone, then all of them in one text: render -> parse gives the services' identities, in ipvsadm's order.
    for sample in KEEPALIVED_SAMPLES.values():
        (entry,) = entries([sample])
        assert virtual_server_keys(render_virtual_servers([entry])) == [entry[0].key]
    every = entries(list(KEEPALIVED_SAMPLES.values()))
    in_order = sorted(every, key=lambda entry: service_sort_key(entry[0]))
    assert virtual_server_keys(render_virtual_servers(every)) == [service.key for service, _servers, _check in in_order]


def test_the_services_of_a_hand_written_text_read_back_with_keepalived_defaults():
    text = """# a comment with virtual_server 198.51.100.9 80 {
virtual_server 198.51.100.1 80 {   ! protocol UDP in a comment
    lvs_sched rr
    real_server 192.0.2.11 80 {
        protocol UDP
        TCP_CHECK {
            connect_port 80
        }
    }
}
virtual_server 2001:DB8::1 443
{
    protocol SCTP
}
virtual_server fwmark 9 {
    ip_family inet6
}
virtual_server fwmark 8 { }
virtual_server 198.51.100.2 {
    protocol UDP
}
virtual_server group web {
    protocol TCP
}
virtual_server_group web {
    198.51.100.3 80
}
"""
    assert virtual_server_keys(text) == [
        ("ipv4", "tcp", "198.51.100.1", 80),  # keepalived's default protocol; a real server's words are not the service's
        ("ipv6", "sctp", "2001:db8::1", 443),  # canonical address, brace on the next line
        ("ipv6", 9),
        ("ipv4", 8),
        ("ipv4", "udp", "198.51.100.2", 0),  # no port: a port-0 (PCC) service, as render writes it
    ]
    assert virtual_server_keys("") == []


def test_braces_and_comment_marks_in_quoted_words_do_not_count():
    sample = dict(KEEPALIVED_SAMPLES["ipv4-http-sorry-quorum"], health_check={"type": "http", "path": "/a{{b", "text": 'x { "#'})
    (entry,) = entries([sample])
    text = render_virtual_servers([entry])
    assert '"/a{{b"' in text and '"x\\\\ \\\\{' in text
    assert virtual_server_keys(text + text.replace("198.51.100.1 80", "198.51.100.1 81")) == [entry[0].key, ("ipv4", "tcp", "198.51.100.1", 81)]
