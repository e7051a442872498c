"""`python -m mogrun` is the same as the `mogrun` console script."""

from mogrun.cli.app import main

if __name__ == "__main__":
    main()
