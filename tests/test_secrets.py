"""Masking secrets in command lines: each row is a command as the daemon reports it and what archviz keeps."""

from __future__ import annotations

import pytest

from archviz.secrets import mask_command


@pytest.mark.parametrize(
    ("command", "masked"),
    [
        # Long options, with = or a space.
        ("docker login --password hunter2 reg", "docker login --password *** reg"),
        ("docker login --password=hunter2 reg", "docker login --password=*** reg"),
        ("tool --token abc --verbose", "tool --token *** --verbose"),
        ("tool --token=abc", "tool --token=***"),
        ("docker build --secret id=npm,src=/run/npmrc .", "docker build --secret *** ."),
        ("tool --api-key k1 --API_KEY=k2 --client-secret s --db-password p",
         "tool --api-key *** --API_KEY=*** --client-secret *** --db-password ***"),
        ("app --passphrase 'two words' go", "app --passphrase *** go"),
        # mysql-style -p.
        ("mysql -uroot -psecret db", "mysql -uroot -p*** db"),
        ("sh -c mysql -psecret", "sh -c mysql -p***"),
        ("mysql -u root -p secret db", "mysql -u root -p *** db"),
        ("/usr/bin/mysqldump -p s3cr3t --all-databases", "/usr/bin/mysqldump -p *** --all-databases"),
        ("mariadb -p pw", "mariadb -p ***"),
        ("mysqladmin -p pw status", "mysqladmin -p *** status"),
        ("mysql -P 3306 -psecret", "mysql -P 3306 -p***"),
        ("mysql -p'my pass' db", "mysql -p*** db"),
        # Environment variables.
        ("env PGPASSWORD=x psql", "env PGPASSWORD=*** psql"),
        ("env TOKEN=abc cmd", "env TOKEN=*** cmd"),
        ("API_TOKEN=x AWS_SECRET_ACCESS_KEY=y run", "API_TOKEN=*** AWS_SECRET_ACCESS_KEY=*** run"),
        ("export db_passwd=a MYSQL_PWD=b GH_AUTH=c AZURE_CREDENTIALS=d DB_PASS=e",
         "export db_passwd=*** MYSQL_PWD=*** GH_AUTH=*** AZURE_CREDENTIALS=*** DB_PASS=***"),
        ("docker run -e API_KEY=k --env=SECRET=s img", "docker run -e API_KEY=*** --env=SECRET=*** img"),
        ("curl https://api.example/v1?api_key=abc&page=2", "curl https://api.example/v1?api_key=***"),
        ('PGPASSWORD="a b c" psql', "PGPASSWORD=*** psql"),
        # Headers keep their name and scheme.
        ("curl -H Authorization: Bearer abc.def https://x", "curl -H Authorization: Bearer *** https://x"),
        ("curl -H Authorization: Basic dXNlcjpwYXNz https://x", "curl -H Authorization: Basic *** https://x"),
        ("curl -H 'authorization: bearer abc' https://x", "curl -H 'authorization: bearer ***' https://x"),
        ("curl -H 'Authorization: Digest username=\"a\", response=\"b\"' x", "curl -H 'Authorization: Digest ***' x"),
        ("curl -H X-Api-Key: abc -H Private-Token:\tdef x", "curl -H X-Api-Key: *** -H Private-Token:\t*** x"),
        ("wget --header=Proxy-Authorization: Basic Zm9v x", "wget --header=Proxy-Authorization: Basic *** x"),
        # User and password, curl style and in URLs.
        ("curl -u user:password https://x", "curl -u user:*** https://x"),
        ("curl -uuser:pw --user=bob:pw2 --proxy-user ann:pw3 x",
         "curl -uuser:*** --user=bob:*** --proxy-user ann:*** x"),
        ("curl --user 'bob:two words' x", "curl --user 'bob:***' x"),
        ("psql postgres://app:hunter2@db:5432/app", "psql postgres://app:***@db:5432/app"),
        ("git clone https://x-token:ghp_abc@github.com/o/r", "git clone https://x-token:***@github.com/o/r"),
        ("redis-cli -u redis://:pw@cache:6379", "redis-cli -u redis://:***@cache:6379"),
        ("mongo mongodb://u:p@ss@h/db", "mongo mongodb://u:***@h/db"),
        # Quotes: a quoted value is masked whole; a quote closing the string a value sits in stays.
        ('sh -c "mysql -psecret"', 'sh -c "mysql -p***"'),
        ("sh -c 'mysql -psecret' && ls", "sh -c 'mysql -p***' && ls"),
        ("sh -c \"mysql -p'my pass' db\"", "sh -c \"mysql -p*** db\""),
        ("sh -c \"echo 'TOKEN=abc'\"", "sh -c \"echo 'TOKEN=***'\""),
        ('tool --password "a \\" b" next', "tool --password *** next"),
        ("tool --password=pre'a b'post next", "tool --password=*** next"),
        ("tool -pa\\ b next", "tool -p*** next"),
        ("echo don't && mysql -p'my pass' x", "echo don't && mysql -p*** x"),
        # Unterminated quotes hide the rest of the text.
        ("tool --password 'never closed and more", "tool --password ***"),
        ('tool TOKEN="never closed', "tool TOKEN=***"),
        ("'TOKEN=open to the end", "'TOKEN=***"),
        # Unicode.
        ("TOKEN=日本語 rest", "TOKEN=*** rest"),
        ("mysql -pпароль\u3000next", "mysql -p***\u3000next"),
        ("PASSWORD_é=x y", "PASSWORD_é=*** y"),
        # Over-masked on purpose: it cannot be told from a secret.
        ("docker run -p8080:80 nginx", "docker run -p*** nginx"),
        ("docker run --name mysql -p 3306:3306 mariadb", "docker run --name mysql -p *** mariadb"),
        ("docker run -u 1000:1000 img", "docker run -u 1000:*** img"),
        ("sh -c \"mysql -psecret\";ls", "sh -c \"mysql -p***"),
    ],
)
def test_a_secret_is_masked_and_its_flag_or_name_kept(command: str, masked: str) -> None:
    assert mask_command(command) == masked


@pytest.mark.parametrize(
    "command",
    [
        "",
        "sh -c date",
        "echo hi",
        "docker run -p 8080:80 nginx",
        "docker run -p 127.0.0.1:80:80/tcp -P nginx",
        "mkdir -p /var/lib/data",
        "mysql -p -h db -u root",
        "mysql -p",
        "mysqlsh -p secret-looking-but-not-mysql",
        "docker login -u bob --password-stdin reg.example",
        "tool --password-file /run/secrets/db --token-file=/t",
        "tool --password",
        "tool --password= --token --verbose",
        "TOKEN= empty",
        "sort --key=2 -u file",
        "docker exec -u root web id",
        "curl https://example.com:8443/path?page=2",
        "curl https://user@example.com/",
        "docker run -v keys:/data img:latest",
        "echo a:b c=d e_f=g",
        "ps -P -o pid",
        "health_status: healthy",
        "exec_create: sh -c echo hi",
        """echo '<img src=x onerror="window.__pwned=1">' "</text><script>window.__pwned=2</script>"; true""",
        "echo 'unterminated \"quotes everywhere",
        "Ünïcödé ✓ 日本語 \u3000 \x00 \t\n tabs and newlines",
        "-",
        "--",
        "'",
        '"',
        "://:@",
    ],
)
def test_a_command_without_secrets_is_kept_byte_for_byte(command: str) -> None:
    assert mask_command(command) == command


@pytest.mark.parametrize(
    ("hostile", "masked"),
    [
        ("a" * 100_000, "a" * 100_000),
        ("X-Api-Key" * 11_000, "X-Api-Key" * 11_000),
        ("mysql " + "-p " * 30_000, "mysql " + "-p " * 30_000),
        ("--password " * 9_000, "--password " * 9_000),
        ("'\"" * 50_000, "'\"" * 50_000),
        ("a://b:" * 16_000, "a://b:" * 16_000),
        ("x://u:" + ":" * 100_000, "x://u:" + ":" * 100_000),
        ("x://u:" + "@" * 100_000, "x://u:***@"),
        ("TOKEN=" * 20_000, "TOKEN=***"),
        ("PGPASSWORD=x " * 8_000, "PGPASSWORD=*** " * 8_000),
        ("mysql -psecret " * 7_000, "mysql -p*** " * 7_000),
        ("-p" + "\\" * 100_000, "-p***"),
        ("--password '" + "a b " * 25_000, "--password ***"),
        ("TOKEN=" + "x" * 100_000 + " after", "TOKEN=*** after"),
    ],
    ids=["letters", "header-names", "spaced-p", "long-options", "quotes", "urls", "url-colons", "url-ats", "names",
         "many-variables", "many-passwords", "backslashes", "unterminated", "long-value"],
)
def test_a_100_kb_hostile_command_is_masked_in_one_pass(hostile: str, masked: str) -> None:
    # A regex that backtracks would take minutes here and hit the suite's timeout; a linear scan takes milliseconds.
    assert mask_command(hostile) == masked
