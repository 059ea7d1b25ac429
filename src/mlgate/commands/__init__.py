"""mlgate's commands: ``main`` (the ``mlgate`` command line, Click) and ``hook`` (what the
installed git hooks run, without Click). Each module parses its options, calls one function of
a capability folder, prints what it returns through ``output`` and exits with its code; the
errors become messages in one place, ``errors.guarded``.

Kept empty: the hooks import ``commands.hook`` on every commit, and nothing here may make them
import Click."""
