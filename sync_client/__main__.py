"""`python -m sync_client` runs the sync-models CLI."""

from sync_client.cli import main

if __name__ == "__main__":
    main()
