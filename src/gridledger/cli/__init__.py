"""The ``gridledger`` command line: node home, keys, transactions, queries, verify, bench."""
