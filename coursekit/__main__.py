"""``python -m coursekit <command>``: doctor (more commands live in submodules)."""

import sys

USAGE = "uso: python -m coursekit doctor [--no-spark]"


def main() -> int:
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if args else 2
    if args[0] == "doctor":
        from coursekit.doctor import main as doctor

        return doctor(args[1:])
    print(f"comando desconhecido: {args[0]!r}. {USAGE}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
