"""Every state key of the consortium. Nothing else builds them: other code calls these.

* ``consortium/seq``: the id of the last proposal, decimal;
* ``consortium/proposal/<id>``: a :class:`~.records.Proposal`; ``<id>`` zero-padded to 12
  digits, so proposals sort in the order they were made;
* ``consortium/node_keys/<org>``: an organisation's :class:`~.records.NodeKeyHistory`,
  written when the consortium adds the organisation or rotates its node key (an organisation
  without one has had its registry ``node_key`` since height 0);
* ``consortium/network/<org>``: where an organisation added by the consortium runs its node
  and etcd member, an :class:`~.records.OrgNetwork`.

Organisation ids never contain ``/``, so a prefix ending in ``/`` holds exactly one kind of
record.
"""

from __future__ import annotations

ID_DIGITS = 12
MAX_PROPOSAL_ID = 10**ID_DIGITS - 1


def seq() -> bytes:
    return b"consortium/seq"


def proposal(proposal_id: int) -> bytes:
    return proposals() + b"%012d" % proposal_id


def proposals() -> bytes:
    """Prefix of every proposal."""
    return b"consortium/proposal/"


def proposal_part(proposal_id: int) -> bytes:
    """The key suffix of a proposal id (for range scans under :func:`proposals`)."""
    return b"%012d" % proposal_id


def node_keys(org: str) -> bytes:
    return node_key_histories() + org.encode()


def node_key_histories() -> bytes:
    """Prefix of every organisation's node key history."""
    return b"consortium/node_keys/"


def network(org: str) -> bytes:
    return networks() + org.encode()


def networks() -> bytes:
    """Prefix of every organisation's network record."""
    return b"consortium/network/"
