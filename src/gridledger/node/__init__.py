"""The node around the contracts: admission, ordering, execution, commit, verification."""
