"""The consortium network: several organisations, one ordered chain.

Each organisation runs a node and one member of an etcd cluster (3 or 5 members) that orders
blocks; every node imports every block through the one block import path and attests the state
root it reached (see ``docs`` and the Network section of the design).

- :mod:`.pki`: the consortium's certificate authority and each organisation's certificate, one
  certificate serving as etcd server, peer and client certificate (mutual TLS everywhere);
- :mod:`.etcd`: real etcd members as subprocesses (mutual TLS, optionally inside a network
  namespace), a :class:`~.etcd.Cluster` helper for tests and local networks, maintenance calls
  (health, leader, defragment, alarms) and a client that fails over between members;
- :mod:`.log`: the ordering log in etcd, one compare-and-swap per block position;
- :mod:`.ordering` and :mod:`.runner`: the network ordering backend and the node that runs on it.
"""
