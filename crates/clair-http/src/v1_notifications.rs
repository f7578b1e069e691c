//! Clair v2's notification routes: `GET /v1/notifications/:name?limit=N[&page=TOKEN]` and
//! `DELETE /v1/notifications/:name`.
//!
//! A v1 notification is stored (by [`crate::notify`]) as a store notification of kind `v1` whose
//! body holds `Old` and `New` (each `{"Vulnerability": …}` or absent) and whose items are the
//! layers introducing each side, `{"side": "old"|"new", "index": N, "layer": NAME}`, in layer
//! order. Pages follow Clair v2: `limit` (required) caps the layers per side, the token holds
//! the next start index of each side (`-1`: that side is done), `NextPage` is absent once both
//! sides are done, and `limit=-1` loads no layers.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::v1::{V1Error, join_err, limit_param, page_token, wants_gzip, write_one};

use crate::notify::V1 as KIND;
const NOT_FOUND: &str = "the resource cannot be found";
/// Most layers read per side (a bound on one response).
const MAX_LIMIT: i64 = 10_000;

/// `GET /v1/notifications/:name`.
pub async fn get(
    State(s): State<AppState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, V1Error> {
    let q = crate::query_params(&q);
    let limit = limit_param(&q)?;
    let token = q.get("page").filter(|p| !p.is_empty()).cloned();
    let (mut old_start, mut new_start) = (0i64, 0i64);
    if let Some(t) = &token {
        let v = page_token(&s, t)?;
        old_start = v["OldVulnerability"].as_i64().unwrap_or(-1);
        new_start = v["NewVulnerability"].as_i64().unwrap_or(-1);
    }
    let id: uuid::Uuid = name
        .parse()
        .map_err(|_| V1Error(StatusCode::NOT_FOUND, NOT_FOUND.into()))?;
    let st = s.clone();
    let (note, items) = tokio::task::spawn_blocking(move || -> Result<_, V1Error> {
        let note = st
            .store
            .notification(id)?
            .filter(|n| n.kind == KIND)
            .ok_or_else(|| V1Error(StatusCode::NOT_FOUND, NOT_FOUND.into()))?;
        let mut items = Vec::new();
        let mut after = None;
        loop {
            let page = st.store.notification_items(id, after, 1000)?;
            items.extend(page.items);
            match page.next {
                Some(n) if items.len() < 1_000_000 => after = Some(n),
                _ => break,
            }
        }
        Ok((note, items))
    })
    .await
    .map_err(join_err)??;

    let limit = limit.min(MAX_LIMIT);
    let side = |which: &str, start: i64| -> (Vec<serde_json::Value>, i64) {
        if start < 0 || limit < 0 {
            return (Vec::new(), -1);
        }
        let layers: Vec<&serde_json::Value> = items
            .iter()
            .map(|i| &i.body)
            .filter(|b| b["side"] == which && b["index"].as_i64().unwrap_or(-1) >= start)
            .collect();
        let take = usize::try_from(limit).unwrap_or(0);
        let next = layers
            .get(take)
            .and_then(|b| b["index"].as_i64())
            .unwrap_or(-1);
        (layers.into_iter().take(take).cloned().collect(), next)
    };
    let (old_layers, old_next) = side("old", old_start);
    let (new_layers, new_next) = side("new", new_start);
    let with_layers = |v: &serde_json::Value, layers: Vec<serde_json::Value>| {
        let mut out = serde_json::json!({ "Vulnerability": v });
        if !layers.is_empty() {
            out["OrderedLayersIntroducingVulnerability"] = layers
                .iter()
                .map(|l| serde_json::json!({"Index": l["index"], "LayerName": l["layer"]}))
                .collect();
            out["LayersIntroducingVulnerability"] =
                layers.iter().map(|l| l["layer"].clone()).collect();
        }
        out
    };
    let mut n = serde_json::json!({
        "Name": note.id.to_string(),
        "Created": note.created.as_second().to_string(),
        "Limit": limit,
        "Page": token.unwrap_or_else(|| s.page_key.mint(&serde_json::json!({"OldVulnerability": 0, "NewVulnerability": 0}))),
    });
    // As Clair v2: Unix seconds as strings, each present once it happened (`Notified` is
    // the last delivery, `Deleted` the acknowledgement; deleted notifications stay readable).
    if let Some(t) = note.notified {
        n["Notified"] = t.as_second().to_string().into();
    }
    if let Some(t) = note.deleted {
        n["Deleted"] = t.as_second().to_string().into();
    }
    if !(old_next == -1 && new_next == -1) {
        n["NextPage"] = serde_json::Value::String(s.page_key.mint(
            &serde_json::json!({"OldVulnerability": old_next, "NewVulnerability": new_next}),
        ));
    }
    if let Some(v) = note.body.get("Old").filter(|v| !v.is_null()) {
        n["Old"] = with_layers(v.get("Vulnerability").unwrap_or(v), old_layers);
    }
    if let Some(v) = note.body.get("New").filter(|v| !v.is_null()) {
        n["New"] = with_layers(v.get("Vulnerability").unwrap_or(v), new_layers);
    }
    Ok(write_one(
        StatusCode::OK,
        "Notification",
        n,
        wants_gzip(&headers),
    ))
}

/// `DELETE /v1/notifications/:name`: acknowledged; no more deliveries.
pub async fn delete(
    State(s): State<AppState>,
    Path(name): Path<String>,
) -> Result<Response, V1Error> {
    let id: uuid::Uuid = name
        .parse()
        .map_err(|_| V1Error(StatusCode::NOT_FOUND, NOT_FOUND.into()))?;
    let store = s.store.clone();
    let existed = tokio::task::spawn_blocking(move || -> Result<bool, V1Error> {
        match store.notification(id)? {
            Some(n) if n.kind == KIND => Ok(store.acknowledge_notification(id)?),
            _ => Ok(false),
        }
    })
    .await
    .map_err(join_err)??;
    if !existed {
        return Err(V1Error(StatusCode::NOT_FOUND, NOT_FOUND.into()));
    }
    Ok(StatusCode::OK.into_response())
}
