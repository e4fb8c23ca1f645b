//! `sa usage`: what an organization's accounts and tokens are doing (counts, staleness,
//! policy drift, verifications), and one account's tokens with their per-day verifications.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};

use crate::domain::Context;
use crate::domain::accounts;
use crate::domain::names::AccountRef;
use crate::error::Result;
use crate::store::{Account, Store, Token, TokenFilter, TokenSelection, UsageBounds, UsageCounts};
use crate::time::Duration;

/// `sa usage` options; `None` takes the default.
#[derive(Debug, Clone, Copy, Default)]
pub struct UsageQuery {
    /// Default: `tokens.warn_before`.
    pub expiring_within: Option<Duration>,
    /// Default: 30 days.
    pub stale: Option<Duration>,
}

/// How long without a use makes a token or an account stale, unless `--stale` says.
pub const DEFAULT_STALE: Duration = Duration::from_days(30);

/// The organization's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgUsage {
    pub org: String,
    pub counts: UsageCounts,
    pub expiring_within: Duration,
    pub stale: Duration,
    pub max_accounts: Option<u64>,
    pub max_tokens_per_account: u64,
    pub max_ttl: Duration,
    pub require_expiry: bool,
}

impl OrgUsage {
    /// Tokens that never expire count as drift only while the policy requires an expiry.
    pub fn tokens_without_expiry_drift(&self) -> u64 {
        if self.require_expiry {
            self.counts.tokens_without_expiry
        } else {
            0
        }
    }

    /// Existing tokens and accounts that break today's policy.
    pub fn drift(&self) -> u64 {
        self.counts.tokens_over_max_ttl
            + self.tokens_without_expiry_drift()
            + self.counts.accounts_over_token_limit
    }

    /// Whether anything needs attention: tokens about to lapse, stale tokens or accounts, or
    /// policy drift (`sa usage --exit-code`).
    pub fn needs_attention(&self) -> bool {
        self.counts.tokens_expiring > 0
            || self.counts.tokens_stale > 0
            || self.counts.accounts_stale > 0
            || self.drift() > 0
    }
}

/// The first UTC day of the last `days` days, today included.
fn first_day(now: DateTime<Utc>, days: u32) -> NaiveDate {
    now.date_naive() - TimeDelta::days(i64::from(days.saturating_sub(1)))
}

pub fn report(store: &mut Store, ctx: &Context<'_>, query: &UsageQuery) -> Result<OrgUsage> {
    let policy = &ctx.config.tokens;
    let expiring_within = query.expiring_within.unwrap_or(policy.warn_before);
    let stale = query.stale.unwrap_or(DEFAULT_STALE);
    let bounds = UsageBounds {
        now: ctx.now,
        expiring_before: ctx.now + expiring_within.to_delta(),
        stale_before: ctx.now - stale.to_delta(),
        max_ttl_secs: Some(policy.max_ttl.as_secs()),
        max_tokens_per_account: Some(ctx.config.limits.max_tokens_per_account),
        first_days: [1, 7, 30].map(|n| first_day(ctx.now, n).format("%Y-%m-%d").to_string()),
    };
    let counts = store.read(|tx| tx.usage_counts(ctx.org.as_str(), &bounds))?;
    Ok(OrgUsage {
        org: ctx.org.to_string(),
        counts,
        expiring_within,
        stale,
        max_accounts: ctx.config.limits.max_accounts,
        max_tokens_per_account: ctx.config.limits.max_tokens_per_account,
        max_ttl: policy.max_ttl,
        require_expiry: policy.require_expiry,
    })
}

/// One token of `sa usage ACCOUNT`, with its verifications per day of the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUsage {
    pub token: Token,
    /// One entry per UTC day of the window, oldest first, zero days included.
    pub series: Vec<(NaiveDate, u64)>,
}

impl TokenUsage {
    pub fn in_window(&self) -> u64 {
        self.series.iter().map(|(_, n)| n).sum()
    }
}

/// The longest window `sa usage ACCOUNT --days` accepts (about a year and a month, the
/// default retention of per-day counters).
pub const MAX_DAYS: u32 = 400;

/// What `sa usage ACCOUNT` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountUsage {
    pub account: Account,
    /// The window's first and last UTC days (the last is today).
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// When the report was taken: what each token's status is judged at.
    pub at: DateTime<Utc>,
    pub tokens: Vec<TokenUsage>,
}

/// `sa usage ACCOUNT`: the account (not deleted) and each of its tokens that was not already
/// over (revoked or expired) when the window of `days` UTC days (today included) began.
pub fn account_report(
    store: &mut Store,
    ctx: &Context<'_>,
    account: &AccountRef,
    days: u32,
) -> Result<AccountUsage> {
    let days = days.clamp(1, MAX_DAYS);
    let first = first_day(ctx.now, days);
    let window_start = first
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or(ctx.now);
    store.read(|tx| {
        let found = accounts::find(tx, ctx, account)?;
        let mut tokens = Vec::new();
        let selection = TokenSelection {
            account_id: Some(found.id),
            filter: TokenFilter::All,
            ..Default::default()
        };
        tx.for_each_token(ctx.org.as_str(), &selection, ctx.now, &mut |token| {
            let ended = token.revoked_at.or(token.expires_at);
            if ended.is_none_or(|at| at >= window_start) {
                tokens.push(token);
            }
            Ok(())
        })?;
        let first_text = first.format("%Y-%m-%d").to_string();
        let mut usage = Vec::with_capacity(tokens.len());
        for token in tokens {
            let counted: std::collections::HashMap<String, u64> = tx
                .token_usage_days(&token.id, &first_text)?
                .into_iter()
                .map(|d| (d.day, d.count))
                .collect();
            let series = (0..days)
                .map(|n| {
                    let day = first + TimeDelta::days(i64::from(n));
                    let uses = counted
                        .get(&day.format("%Y-%m-%d").to_string())
                        .copied()
                        .unwrap_or(0);
                    (day, uses)
                })
                .collect();
            usage.push(TokenUsage { token, series });
        }
        Ok(AccountUsage {
            account: found,
            from: first,
            to: ctx.now.date_naive(),
            at: ctx.now,
            tokens: usage,
        })
    })
}

/// Removes per-day counters older than `retention.usage_days`: part of the lazy retention
/// pass before every command. Counters are not audited data, so nothing is recorded.
pub fn purge_old_counters(store: &mut Store, ctx: &Context<'_>) -> Result<u64> {
    let days = u32::try_from(ctx.config.retention.usage_days).unwrap_or(u32::MAX);
    let first_kept = first_day(ctx.now, days).format("%Y-%m-%d").to_string();
    if !store.read(|tx| tx.any_usage_before(&first_kept))? {
        return Ok(0);
    }
    store.write(|tx| tx.delete_usage_before(&first_kept))
}
