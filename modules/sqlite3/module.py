# sqlite3: the SQLite command-line shell (Debian's sqlite3) on an in-memory
# or image-resident database.
packages = ["sqlite3"]


def files(m):
    m.add_package("sqlite3")


configs = {
    "default": Run(argv=["/usr/bin/sqlite3", ":memory:",
                         "create table t(x); insert into t values (1),(2),(3); "
                         "select sqlite_version(), sum(x) from t;"]),
    "shell": Run(argv=["/usr/bin/sqlite3"]),
}
