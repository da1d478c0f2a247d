"""The guard inside applications' frameworks, one small module per framework.

They live apart from the core (``rls.guard`` never imports a framework or a driver): import
:mod:`rls.integrations.sqlalchemy` or :mod:`rls.integrations.django` only where that
framework is installed.
"""
