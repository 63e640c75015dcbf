"""`make demo`: start the local servers, run the example sync end to end, print the report."""

from __future__ import annotations

from devtools.servers import local_servers


def main() -> None:
    with local_servers() as servers:
        print(f"OpenBao dev server: {servers.vault.url}")
        print(f"moto server:        {servers.aws.url}")
        print("The example sync DAG is not yet available; the servers start and stop cleanly.")
    print("Local servers stopped.")


if __name__ == "__main__":
    main()
