"""The `aicommons` command line: sign-in, identity, organisations, users and API tokens."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from aicommons.portal.auth.schemas import ApiTokenCreate, UserCreate
from aicommons.portal.client import AicommonsClient, ApiError, ClientConfig, oidc
from aicommons.portal.orgs.schemas import MemberAdd, OrgCreate

from .messages import current_lang, say

app = typer.Typer(
    help="aicommons: shared AI compute and dataset portal · 共享算力与数据开放平台", no_args_is_help=True
)
orgs_app = typer.Typer(help="Organisations and members · 机构与成员", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens for scripts · 脚本用 API 令牌", no_args_is_help=True)
users_app = typer.Typer(help="Local accounts (administrators) · 本地账户（管理员）", no_args_is_help=True)
app.add_typer(orgs_app, name="orgs")
app.add_typer(tokens_app, name="tokens")
app.add_typer(users_app, name="users")

console = Console()
err = Console(stderr=True)


@contextmanager
def _client(require_token: bool = True) -> Iterator[tuple[AicommonsClient, str]]:
    config = ClientConfig.load()
    lang = current_lang(config.lang)
    if require_token and not config.token:
        err.print(f"[red]{say('not_logged_in', lang)}[/red]")
        raise typer.Exit(2)
    _refresh_if_needed(config, lang)
    client = AicommonsClient(config.server, config.token, lang="zh-CN" if lang == "zh" else "en")
    try:
        yield client, lang
    except ApiError as exc:
        err.print(f"[red]{say('error', lang)} ({exc.code}):[/red] {exc.message}")
        for field in exc.fields:
            err.print(f"  • {field.get('field')}: {field.get('message')}")
        raise typer.Exit(1) from None
    except ValidationError as exc:
        err.print(f"[red]{say('error', lang)}:[/red]")
        for problem in exc.errors():
            err.print(f"  • {'.'.join(str(p) for p in problem['loc'])}: {problem['msg']}")
        raise typer.Exit(2) from None
    finally:
        client.close()


def _refresh_if_needed(config: ClientConfig, lang: str) -> None:
    if not (config.token and config.refresh_token and config.token_endpoint and config.client_id):
        return
    if not oidc.expires_soon(config.token):
        return
    try:
        tokens = oidc.refresh_tokens(config.token_endpoint, config.client_id, config.refresh_token)
    except ApiError as exc:
        err.print(f"[red]{say('error', lang)} ({exc.code}):[/red] {exc.message}")
        raise typer.Exit(1) from None
    config.token = tokens["access_token"]
    config.refresh_token = tokens.get("refresh_token", config.refresh_token)
    config.save()


@app.command()
def login(
    username: Annotated[str | None, typer.Option(help="user name (local account)")] = None,
    password: Annotated[str | None, typer.Option(help="password; prompted when omitted")] = None,
    server: Annotated[str | None, typer.Option(help="portal URL, e.g. http://127.0.0.1:8600")] = None,
    sso: Annotated[
        bool, typer.Option("--sso", help="sign in through the identity provider (device code)")
    ] = False,
) -> None:
    """Sign in and remember the token · 登录并保存令牌."""
    config = ClientConfig.load()
    if server:
        config.server = server
    config.token = config.refresh_token = None
    lang = current_lang(config.lang)
    client = AicommonsClient(config.server, lang="zh-CN" if lang == "zh" else "en")
    try:
        if sso:
            username = _device_login(client, config, lang)
        else:
            username = username or typer.prompt(say("prompt_username", lang))
            password = password or typer.prompt(say("prompt_password", lang), hide_input=True)
            config.token = client.login(username, password).access_token
    except ApiError as exc:
        err.print(f"[red]{say('error', lang)} ({exc.code}):[/red] {exc.message}")
        raise typer.Exit(1) from None
    finally:
        client.close()
    config.username = username
    config.save()
    console.print(say("logged_in", lang, server=config.server, username=username))


def _device_login(client: AicommonsClient, config: ClientConfig, lang: str) -> str:
    auth = oidc.start_device_login(client)
    # soft_wrap keeps URLs on one line, so they can be copied whole.
    console.print(say("device_visit", lang, url=auth.verification_uri, code=auth.user_code), soft_wrap=True)
    if auth.verification_uri_complete:
        console.print(say("device_direct", lang, url=auth.verification_uri_complete), soft_wrap=True)
    with console.status(say("device_waiting", lang)):
        tokens = oidc.poll_device_login(auth)
    config.token, config.refresh_token = tokens["access_token"], tokens.get("refresh_token")
    config.token_endpoint, config.client_id = auth.token_endpoint, auth.client_id
    with AicommonsClient(config.server, config.token) as signed_in:
        return signed_in.me().user.username


@app.command()
def logout() -> None:
    """Forget the stored token · 退出登录."""
    config = ClientConfig.load()
    config.token = None
    config.save()
    console.print(say("logged_out", current_lang(config.lang)))


@app.command()
def whoami() -> None:
    """Show the signed-in user and memberships · 显示当前用户."""
    with _client() as (client, lang):
        me = client.me()
        admin = f" ({say('admin', lang)})" if me.user.is_admin else ""
        console.print(f"[bold]{me.user.username}[/bold]{admin} · {client.server}")
        for m in me.memberships:
            console.print(f"  {m.org_slug}: {m.role}")


@orgs_app.command("list")
def orgs_list() -> None:
    """List organisations you can see · 列出机构."""
    with _client() as (client, lang):
        orgs = client.list_orgs()
        table = Table(title=say("organisations", lang))
        for key in ("col_slug", "col_name", "col_created"):
            table.add_column(say(key, lang))
        for org in orgs:
            table.add_row(org.slug, org.name, org.created_at.strftime("%Y-%m-%d"))
        console.print(table if orgs else say("no_orgs", lang))


@orgs_app.command("create")
def orgs_create(slug: str, name: str, description: Annotated[str | None, typer.Option()] = None) -> None:
    """Create an organisation (administrators) · 创建机构."""
    with _client() as (client, lang):
        org = client.create_org(OrgCreate(slug=slug, name=name, description=description))
        console.print(say("org_created", lang, slug=org.slug))


@orgs_app.command("show")
def orgs_show(slug: str) -> None:
    """Show an organisation and its members · 查看机构."""
    with _client() as (client, lang):
        org = client.get_org(slug)
        console.print(f"[bold]{org.slug}[/bold] · {org.name}")
        if org.description:
            console.print(org.description)
        _print_members(client, slug, lang)


@orgs_app.command("members")
def orgs_members(slug: str) -> None:
    """List members · 列出成员."""
    with _client() as (client, lang):
        _print_members(client, slug, lang)


def _print_members(client: AicommonsClient, slug: str, lang: str) -> None:
    table = Table(title=say("members", lang, slug=slug))
    table.add_column(say("col_user", lang))
    table.add_column(say("col_role", lang))
    for member in client.list_members(slug):
        table.add_row(member.username, member.role)
    console.print(table)


@orgs_app.command("add-member")
def orgs_add_member(
    slug: str, username: str, role: Annotated[str, typer.Option(help="member or steward")] = "member"
) -> None:
    """Add a user to an organisation · 添加成员."""
    with _client() as (client, lang):
        member = client.add_member(slug, MemberAdd.model_validate({"username": username, "role": role}))
        console.print(say("member_added", lang, username=member.username, slug=slug, role=member.role))


@orgs_app.command("remove-member")
def orgs_remove_member(slug: str, username: str) -> None:
    """Remove a user from an organisation · 移除成员."""
    with _client() as (client, lang):
        client.remove_member(slug, username)
        console.print(say("member_removed", lang, username=username, slug=slug))


@tokens_app.command("list")
def tokens_list() -> None:
    """List your API tokens · 列出 API 令牌."""
    with _client() as (client, lang):
        table = Table(title=say("tokens", lang))
        for key in ("col_id", "col_name", "col_prefix", "col_expires", "col_revoked"):
            table.add_column(say(key, lang))
        for t in client.list_tokens():
            revoked = t.revoked_at.strftime("%Y-%m-%d") if t.revoked_at else ""
            table.add_row(t.id, t.name, t.prefix + "…", t.expires_at.strftime("%Y-%m-%d"), revoked)
        console.print(table)


@tokens_app.command("create")
def tokens_create(name: str, days: Annotated[int, typer.Option(help="validity in days")] = 90) -> None:
    """Create an API token; it is shown once · 创建 API 令牌."""
    with _client() as (client, lang):
        created = client.create_token(ApiTokenCreate.model_validate({"name": name, "expires_in_days": days}))
        console.print(say("token_created", lang))
        console.print(created.token, soft_wrap=True, highlight=False)


@tokens_app.command("revoke")
def tokens_revoke(token_id: str) -> None:
    """Revoke an API token · 吊销 API 令牌."""
    with _client() as (client, lang):
        client.revoke_token(token_id)
        console.print(say("token_revoked", lang, id=token_id))


@users_app.command("list")
def users_list() -> None:
    """List users (administrators) · 列出用户."""
    with _client() as (client, lang):
        table = Table(title=say("users", lang))
        for key in ("col_user", "col_name", "col_admin"):
            table.add_column(say(key, lang))
        for u in client.list_users():
            table.add_row(u.username, u.display_name or "", "✓" if u.is_admin else "")
        console.print(table)


@users_app.command("create")
def users_create(
    username: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    email: Annotated[str | None, typer.Option()] = None,
    display_name: Annotated[str | None, typer.Option()] = None,
    admin: Annotated[bool, typer.Option(help="platform administrator")] = False,
) -> None:
    """Create a local account (administrators) · 创建本地账户."""
    with _client() as (client, lang):
        data = UserCreate.model_validate(
            {
                "username": username,
                "password": password,
                "email": email,
                "display_name": display_name,
                "is_admin": admin,
            }
        )
        user = client.create_user(data)
        console.print(say("user_created", lang, username=user.username))


from .datasets import register as _register_datasets  # noqa: E402  (sub-app registered last)

_register_datasets(app)


from .quota import register as _register_quota  # noqa: E402

_register_quota(app)

from .jobs import register as _register_jobs  # noqa: E402

_register_jobs(app)

from .sim import register as _register_sim  # noqa: E402

_register_sim(app)
