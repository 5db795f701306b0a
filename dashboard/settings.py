"""The one settings class (pydantic-settings): environment variables ``SOUQ_*`` or a ``.env`` file.

Production refuses to start with a missing or placeholder secret; demo mode needs nothing configured.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services.calendar import parse_extra_holidays, set_extra_holidays

PRODUCTION_GATEWAY_URL = "https://apiv2api.upayments.com/api/v1/"
SANDBOX_GATEWAY_URL = "https://sandboxapi.upayments.com/api/v1/"
#: Public sandbox tokens (contract §1.2) — fine for the sandbox, refused in production.
PUBLIC_SANDBOX_TOKENS = frozenset({"jtest123", "e66a94d579cf75fba327ff716ad68c53aae11528"})
_PLACEHOLDERS = frozenset({"", "changeme", "change-me", "replace-me", "your-token-here", "xxx", "todo"})


class SettingsError(ValueError):
    """Settings that must not be used; the message is one sentence saying what to fix."""


class Settings(BaseSettings):
    """Everything the dashboard reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="SOUQ_", env_file=".env", extra="ignore")

    environment: Literal["production", "sandbox", "demo"] = Field(
        default="demo", description="production talks to the live gateway; sandbox/demo show a TEST ribbon"
    )
    gateway_url: str = Field(default=SANDBOX_GATEWAY_URL, description="UPayments API base, ending in /api/v1/")
    gateway_token: SecretStr = Field(default=SecretStr("jtest123"), description="UPayments API key (bearer)")
    gateway_timeout_seconds: float = 15.0
    status_rate_per_minute: int = Field(
        default=30, ge=1, le=800, description="get-payment-status calls a minute"
    )
    database_url: str = Field(default="sqlite:///data/souq.db")
    timezone: str = "Asia/Kuwait"
    admins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="e-mails made admin on first start"
    )
    public_url: str = Field(
        default="http://localhost:8501", description="where customers and the gateway reach this app"
    )
    shop_name: str = "Souq Demo Shop"
    shop_name_ar: str = "متجر سوق التجريبي"
    refund_approval_threshold_fils: int = Field(default=100_000, ge=0, description="fils; 100.000 KWD")
    card_charge_approval_threshold_fils: int = Field(
        default=50_000, ge=0, description="fils; saved-card charges above 50.000 KWD need a second person"
    )
    link_expiry_minutes: int = Field(default=1440, ge=5, le=1440)
    sync_interval_seconds: int = Field(default=20, ge=2)
    background_sync: bool = Field(default=True, description="poll the gateway from a thread in the app process")
    server_name: str = Field(
        default="", max_length=32, pattern=r"^[A-Za-z0-9._-]*$",
        description="a name the operator gives this app server (e.g. app1), shown by /api/health so a proxy or "
                    "an operator can tell the servers apart; empty: not shown. Never the host name or process id",
    )
    webhook_max_bytes: int = Field(default=64 * 1024, ge=1024)
    extra_bank_holidays: Annotated[list[date], NoDecode] = Field(
        default_factory=list, description="bank closures announced late, YYYY-MM-DD comma-separated (Kuwaiti "
                                          "public holidays come from the holidays library already)"
    )
    deposit_overdue_business_days: int = Field(
        default=2, ge=1, le=20, description="a captured payment not deposited this many business days later is overdue"
    )
    statement_tolerance_fils: int = Field(
        default=0, ge=0, le=1_000_000, description="default amount tolerance when matching a bank statement, fils"
    )

    @field_validator("extra_bank_holidays", mode="before")
    @classmethod
    def _split_holidays(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_extra_holidays(value)
        return value

    @field_validator("admins", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("["):
                import json

                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("admins")
    @classmethod
    def _lower_admins(cls, value: list[str]) -> list[str]:
        return [email.strip().lower() for email in value]

    @field_validator("gateway_url", "public_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        return value.rstrip("/") + "/"

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.environment != "production":
            return self
        token = self.gateway_token.get_secret_value().strip()
        if token.lower() in _PLACEHOLDERS or token in PUBLIC_SANDBOX_TOKENS:
            raise SettingsError(
                "SOUQ_GATEWAY_TOKEN is missing or a placeholder/public sandbox token: set your real UPayments "
                "API key before starting in production."
            )
        if "sandbox" in self.gateway_url:
            raise SettingsError("SOUQ_GATEWAY_URL points at a sandbox while SOUQ_ENVIRONMENT=production.")
        if not self.admins:
            raise SettingsError("SOUQ_ADMINS is empty: name at least one admin e-mail for production.")
        return self

    @property
    def is_test_gateway(self) -> bool:
        """True when money is not real (shows the TEST / SANDBOX ribbon)."""
        return self.environment != "production"

    @property
    def demo(self) -> bool:
        return self.environment == "demo"

    def gateway_label(self) -> str:
        """Which gateway the app talks to, for the header (host only, never the token)."""
        from urllib.parse import urlsplit

        return urlsplit(self.gateway_url).netloc or self.gateway_url


def load_settings() -> Settings:
    """Read settings from the environment; raise :class:`SettingsError` with one sentence if unusable."""
    from pydantic import ValidationError

    try:
        settings = Settings()
    except (ValidationError, ValueError) as exc:
        if isinstance(exc, SettingsError):
            raise
        if not isinstance(exc, ValidationError):
            raise SettingsError(f"Settings could not be read: {exc}.") from None
        first = exc.errors()[0]
        ctx_error = first.get("ctx", {}).get("error")
        if isinstance(ctx_error, SettingsError):
            raise ctx_error from None
        where = ".".join(str(p) for p in first.get("loc", ())) or "settings"
        raise SettingsError(f"Setting SOUQ_{where.upper()} is invalid: {first.get('msg')}.") from None
    set_extra_holidays(settings.extra_bank_holidays)  # every promised date in this process skips them
    return settings
