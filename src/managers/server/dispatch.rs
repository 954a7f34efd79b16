//! Serving one connection: handshake, server functions, proxy calls.

use std::collections::HashMap;
use std::os::fd::AsFd;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Instant;

use super::store;
use super::Shared;
use crate::managers::auth;
use crate::managers::connection::Connection;
use crate::managers::pickle::{self, PyValue};
use crate::managers::sdk::{
    contains_proxy, traceback_text, CallCtx, CallError, ConnId, RefTable, ServedObject,
};
use crate::managers::wire::{Reply, Request, Token};
use crate::Error;

use nix::{getsockopt_impl, setsockopt_impl, sockopt_impl};

sockopt_impl!(
    /// `TCP_QUICKACK`: acknowledge at once instead of delaying the ACK.
    TcpQuickAck,
    Both,
    libc::IPPROTO_TCP,
    libc::TCP_QUICKACK,
    bool
);

/// Re-arms `TCP_QUICKACK` (Linux clears it again after a while); no-op on Unix sockets.
fn quickack(shared: &Shared, conn: &Connection) {
    if shared.config.tcp_quickack {
        let _ = nix::sys::socket::setsockopt(&conn.as_fd(), TcpQuickAck, &true);
    }
}

fn send_reply(shared: &Shared, conn: &mut Connection, id: ConnId, reply: &Reply) -> bool {
    let bytes = match reply.encode() {
        Ok(b) => b,
        Err(e) => {
            match Reply::Unserializable(traceback_text("PicklingError", &e.to_string())).encode() {
                Ok(b) => b,
                Err(_) => return false,
            }
        }
    };
    match conn.send_bytes(&bytes) {
        Ok(()) => true,
        Err(e) => {
            if !shared.stop.load(Ordering::SeqCst) {
                shared.log(&format!("connection {id}: sending a reply failed: {e}"));
            }
            false
        }
    }
}

/// Encode `reply` into the connection's outgoing queue (sent at the next flush).
fn queue_reply(shared: &Shared, conn: &mut Connection, reply: &Reply) -> bool {
    let bytes = match reply.encode() {
        Ok(b) => b,
        Err(e) => {
            match Reply::Unserializable(traceback_text("PicklingError", &e.to_string())).encode() {
                Ok(b) => b,
                Err(e) => {
                    shared.log(&format!("cannot encode a reply: {e}"));
                    return false;
                }
            }
        }
    };
    conn.queue_bytes(&bytes);
    true
}

/// Runs an object's code; a panic becomes a `#TRACEBACK` instead of killing the connection.
fn guarded<T>(f: impl FnOnce() -> Result<T, CallError>) -> Result<T, CallError> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(p) => {
            let msg = p
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| p.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "panic".to_string());
            Err(CallError::Traceback(traceback_text(
                "SystemError",
                &format!("the served object panicked: {msg}"),
            )))
        }
    }
}

fn tb(class: &str, msg: &str) -> Reply {
    Reply::Traceback(traceback_text(class, msg))
}

fn dedup(names: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    names
        .into_iter()
        .filter(|n| seen.insert(n.clone()))
        .collect()
}

impl Shared {
    fn table_ref(&self) -> Weak<dyn RefTable> {
        let t: Arc<dyn RefTable> = self.table.clone().as_ref_table();
        Arc::downgrade(&t)
    }

    fn exposed_of(&self, typeid: &str, obj: &Arc<dyn ServedObject>) -> Vec<String> {
        let reg = self.registry.read().unwrap_or_else(|p| p.into_inner());
        match reg.get(typeid).and_then(|s| s.exposed_list()) {
            Some(list) => list.to_vec(),
            None => obj.exposed(),
        }
    }

    pub(super) fn handle_connection(self: &Arc<Self>, id: ConnId, mut conn: Connection) {
        quickack(self, &conn);
        if let Err(e) = auth::server_handshake(&mut conn, &self.config.authkey) {
            self.log(&format!("connection {id}: handshake failed: {e}"));
            return;
        }
        quickack(self, &conn);
        // The first request must come soon after the handshake.
        let deadline = Instant::now() + self.config.handshake_timeout;
        let first = match conn.recv_bytes_deadline(self.config.max_frame, deadline) {
            Ok(b) => b,
            Err(Error::ConnectionClosed) => return,
            Err(e) => {
                self.log(&format!("connection {id}: no request: {e}"));
                return;
            }
        };
        quickack(self, &conn);
        let req = match pickle::loads_request(&first, &self.config.limits)
            .and_then(Request::from_value)
        {
            Ok(r) => r,
            Err(e) => {
                self.log(&format!("connection {id}: bad request: {e}"));
                send_reply(self, &mut conn, id, &tb("ValueError", &e.to_string()));
                return;
            }
        };
        if req.method == "accept_connection" {
            if !send_reply(self, &mut conn, id, &Reply::Return(PyValue::None)) {
                return;
            }
            self.serve_client(id, conn);
            return;
        }
        let shutdown = req.method == "shutdown";
        let reply = self.server_function(id, &req);
        send_reply(self, &mut conn, id, &reply);
        if shutdown {
            self.trigger_shutdown();
        }
    }

    fn server_function(self: &Arc<Self>, id: ConnId, req: &Request) -> Reply {
        let arg_str = |i: usize| req.args.get(i).and_then(PyValue::as_str);
        match req.method.as_str() {
            "dummy" => Reply::Return(PyValue::None),
            "create" => {
                let Some(typeid) = arg_str(0) else {
                    return tb("TypeError", "create() missing required argument 'typeid'");
                };
                let spec = {
                    let reg = self.registry.read().unwrap_or_else(|p| p.into_inner());
                    reg.get(typeid).cloned()
                };
                let Some(spec) = spec else {
                    return tb("KeyError", &format!("'{typeid}'"));
                };
                let kwargs = req.kwds.as_dict();
                let ctx = CallCtx::new(
                    id,
                    None,
                    &self.stop,
                    Some(self.table_ref()),
                    self.config.wait_slice,
                );
                match guarded(|| self.table.create(&ctx, &spec, &req.args[1..], kwargs)) {
                    Ok((ident, obj)) => {
                        if req.args.iter().chain(req.kwds.values()).any(contains_proxy) {
                            obj.pin_stored_proxies(&ctx);
                        }
                        let exposed = match spec.exposed_list() {
                            Some(l) => l.to_vec(),
                            None => obj.exposed(),
                        };
                        Reply::Return(PyValue::Tuple(vec![
                            PyValue::Str(ident),
                            PyValue::Tuple(exposed.into_iter().map(PyValue::Str).collect()),
                        ]))
                    }
                    Err(e) => Reply::Traceback(e.into_traceback()),
                }
            }
            "incref" | "decref" => {
                let Some(ident) = arg_str(0) else {
                    return tb(
                        "TypeError",
                        &format!("{}() expects an ident str", req.method),
                    );
                };
                let r = if req.method == "incref" {
                    self.table.incref_checked(ident)
                } else {
                    self.table.decref_checked(ident)
                };
                match r {
                    Ok(()) => Reply::Return(PyValue::None),
                    Err(t) => Reply::Traceback(t),
                }
            }
            "get_methods" => {
                let token = match req.args.first().map(Token::from_value) {
                    Some(Ok(t)) => t,
                    Some(Err(e)) => return tb("TypeError", &e.to_string()),
                    None => return tb("TypeError", "get_methods() missing argument 'token'"),
                };
                match self.table.get(&token.id) {
                    Ok(Some((obj, typeid))) => Reply::Return(PyValue::Tuple(
                        dedup(self.exposed_of(&typeid, &obj))
                            .into_iter()
                            .map(PyValue::Str)
                            .collect(),
                    )),
                    Ok(None) => tb("KeyError", &format!("{:?}", token.id)),
                    Err(e) => Reply::Traceback(e.into_traceback()),
                }
            }
            "number_of_objects" => Reply::Return(PyValue::Int(self.table.len() as i64)),
            "debug_info" => Reply::Return(PyValue::Str(self.table.debug_info())),
            "shutdown" => Reply::Return(PyValue::None),
            // CPython's SharedMemoryServer (SharedMemoryManager's server).
            "track_segment" | "release_segment" => {
                let Some(name) = arg_str(0) else {
                    return tb(
                        "TypeError",
                        &format!("{}() missing required argument 'segment_name'", req.method),
                    );
                };
                if req.method == "track_segment" {
                    self.segments.track(name);
                    return Reply::Return(PyValue::None);
                }
                match self.segments.release(name) {
                    Ok(()) => Reply::Return(PyValue::None),
                    Err(e) => tb(e.class, &e.message),
                }
            }
            "list_segments" => Reply::Return(PyValue::List(
                self.segments.list().into_iter().map(PyValue::Str).collect(),
            )),
            other => tb("AssertionError", &format!("'{other}' unrecognized")),
        }
    }

    fn serve_client(self: &Arc<Self>, id: ConnId, mut conn: Connection) {
        let mut touched: HashMap<String, Weak<dyn ServedObject>> = HashMap::new();
        let mut served = 0u32;
        loop {
            // Replies to pipelined requests are queued while more whole requests are already
            // buffered, then sent together: one system call per batch instead of per reply.
            if !conn.has_buffered_frame() || conn.queued_len() >= 64 * 1024 {
                if let Err(e) = conn.flush() {
                    if !self.stop.load(Ordering::SeqCst) {
                        self.log(&format!("connection {id}: sending replies failed: {e}"));
                    }
                    break;
                }
            }
            let bytes = match conn.recv_bytes() {
                Ok(b) => b,
                Err(Error::ConnectionClosed) => break,
                Err(e) => {
                    if !self.stop.load(Ordering::SeqCst) {
                        self.log(&format!("connection {id}: {e}"));
                    }
                    break;
                }
            };
            // Delayed ACKs only stall the first exchanges of a connection (afterwards every
            // reply carries the ACK), so the extra system call is spent only there.
            if served < 4 {
                quickack(self, &conn);
                served += 1;
            }
            let decode = |bytes: &[u8]| {
                pickle::loads_request(bytes, &self.config.limits).and_then(Request::from_value)
            };
            let mut batch = vec![decode(&bytes)];
            // Pipelined requests already buffered go to the store together, so a store that
            // plans (Redis) sends a run of simple calls as one round trip.
            let mut closed = false;
            while self.plans && batch.len() < 256 && conn.has_buffered_frame() {
                match conn.recv_bytes() {
                    Ok(b) => batch.push(decode(&b)),
                    Err(_) => {
                        closed = true;
                        break;
                    }
                }
            }
            let replies = if batch.len() == 1 {
                let reply = match batch.pop().expect("one request") {
                    Ok(req) => self.proxy_call(id, &conn, req, &mut touched),
                    Err(e) => {
                        self.log(&format!("connection {id}: bad request: {e}"));
                        Some(tb("ValueError", &e.to_string()))
                    }
                };
                vec![reply]
            } else {
                self.batch_calls(id, &conn, batch, &mut touched)
            };
            let mut abandoned = false;
            for reply in replies {
                match reply {
                    Some(r) => {
                        if !queue_reply(self, &mut conn, &r) {
                            abandoned = true;
                            break;
                        }
                    }
                    None => {
                        abandoned = true;
                        break;
                    }
                }
            }
            if abandoned || closed {
                break;
            }
        }
        let _ = conn.flush();
        drop(conn);
        for obj in touched.values().filter_map(Weak::upgrade) {
            obj.on_disconnect(id);
        }
    }

    /// Pipelined requests in order: runs of calls the store can plan go to it together
    /// ([`Store::run_plans`]); the others are called one by one.
    fn batch_calls(
        self: &Arc<Self>,
        id: ConnId,
        conn: &Connection,
        batch: Vec<crate::Result<Request>>,
        touched: &mut HashMap<String, Weak<dyn ServedObject>>,
    ) -> Vec<Option<Reply>> {
        let mut out = Vec::with_capacity(batch.len());
        let mut run: Vec<store::Plan> = Vec::new();
        let flush = |run: &mut Vec<store::Plan>, out: &mut Vec<Option<Reply>>| {
            if !run.is_empty() {
                let results = self.table.run_plans(std::mem::take(run));
                out.extend(
                    results
                        .into_iter()
                        .map(|r| self.to_reply(id, r.map(Reply::Return))),
                );
            }
        };
        for item in batch {
            match item {
                Ok(req) => match self.plan(id, conn, &req, touched) {
                    Some(plan) => run.push(plan),
                    None => {
                        flush(&mut run, &mut out);
                        out.push(self.proxy_call(id, conn, req, touched));
                    }
                },
                Err(e) => {
                    flush(&mut run, &mut out);
                    self.log(&format!("connection {id}: bad request: {e}"));
                    out.push(Some(tb("ValueError", &e.to_string())));
                }
            }
        }
        flush(&mut run, &mut out);
        out
    }

    /// The store's plan for a plain exposed call (not a `method_to_typeid` one, not a fallback).
    fn plan(
        self: &Arc<Self>,
        id: ConnId,
        conn: &Connection,
        req: &Request,
        touched: &mut HashMap<String, Weak<dyn ServedObject>>,
    ) -> Option<store::Plan> {
        let ident = req.ident.as_deref()?;
        let (obj, typeid) = self.table.get(ident).ok()??;
        {
            let reg = self.registry.read().unwrap_or_else(|p| p.into_inner());
            let spec = reg.get(&typeid)?;
            if !spec.exposed_list()?.contains(&req.method)
                || spec.result_typeid(&req.method).is_some()
            {
                return None;
            }
        }
        let ctx = CallCtx::new(
            id,
            Some(conn.as_fd()),
            &self.stop,
            Some(self.table_ref()),
            self.config.wait_slice,
        );
        let plan = self
            .table
            .plan(&ctx, ident, &req.method, &req.args, req.kwds.as_dict())?;
        if !touched.contains_key(ident) {
            touched.insert(ident.to_string(), Arc::downgrade(&obj));
        }
        Some(plan)
    }

    /// A call's outcome as the reply to send; `None` when the call was abandoned.
    fn to_reply(&self, id: ConnId, outcome: Result<Reply, CallError>) -> Option<Reply> {
        match outcome {
            Ok(r) => Some(r),
            Err(CallError::Raise(e)) => Some(Reply::Error(e)),
            Err(CallError::Traceback(t)) => Some(Reply::Traceback(t)),
            Err(CallError::Unserializable(t)) => Some(Reply::Unserializable(t)),
            Err(CallError::Aborted(why)) => {
                self.log(&format!("connection {id}: call abandoned: {why}"));
                None
            }
        }
    }

    /// One proxy call; `None` when the call was abandoned (caller gone, server stopping).
    fn proxy_call(
        self: &Arc<Self>,
        id: ConnId,
        conn: &Connection,
        req: Request,
        touched: &mut HashMap<String, Weak<dyn ServedObject>>,
    ) -> Option<Reply> {
        let Some(ident) = req.ident.as_deref() else {
            return Some(tb("KeyError", "None"));
        };
        let (obj, typeid) = match self.table.get(ident) {
            Ok(Some(found)) => found,
            Ok(None) => return Some(tb("KeyError", &format!("{ident:?}"))),
            Err(e) => return Some(Reply::Traceback(e.into_traceback())),
        };
        // Some(true/false) when the typeid fixes its exposed list; None: ask the object.
        let (listed, result_typeid) = {
            let reg = self.registry.read().unwrap_or_else(|p| p.into_inner());
            let spec = reg.get(&typeid);
            (
                spec.and_then(|s| s.exposed_list())
                    .map(|l| l.contains(&req.method)),
                spec.and_then(|s| s.result_typeid(&req.method))
                    .map(str::to_string),
            )
        };
        let allowed = listed.unwrap_or_else(|| obj.exposed().contains(&req.method));
        if !allowed {
            let exposed = self.exposed_of(&typeid, &obj);
            return Some(match req.method.as_str() {
                "__repr__" => Reply::Return(PyValue::Str(obj.repr())),
                "__str__" => Reply::Return(PyValue::Str(obj.str())),
                "#GETVALUE" => match obj.get_value() {
                    Ok(v) => Reply::Return(v),
                    Err(CallError::Raise(e)) => Reply::Error(e),
                    Err(CallError::Aborted(_)) => return None,
                    Err(CallError::Traceback(t)) => Reply::Traceback(t),
                    Err(CallError::Unserializable(t)) => Reply::Unserializable(t),
                },
                m => tb(
                    "AttributeError",
                    &format!(
                        "method '{m}' of {typeid:?} object is not in exposed={}",
                        PyValue::Tuple(exposed.into_iter().map(PyValue::Str).collect())
                    ),
                ),
            });
        }
        if !touched.contains_key(ident) {
            if touched.len() >= 4096 {
                // Forget objects that no longer exist (e.g. many short-lived iterators).
                touched.retain(|_, w| w.strong_count() > 0);
            }
            touched.insert(ident.to_string(), Arc::downgrade(&obj));
        }
        let kwargs = req.kwds.as_dict();
        let ctx = CallCtx::new(
            id,
            Some(conn.as_fd()),
            &self.stop,
            Some(self.table_ref()),
            self.config.wait_slice,
        );
        let outcome = guarded(|| match result_typeid {
            Some(rt) => self
                .table
                .call_object(
                    &ctx,
                    store::Target {
                        ident,
                        obj: &obj,
                        result_typeid: &rt,
                    },
                    &req.method,
                    &req.args,
                    kwargs,
                )
                .map(|(new_ident, new)| {
                    let exposed = self.exposed_of(&rt, &new);
                    Reply::Proxy {
                        exposed,
                        token: Token::new(&rt, self.address.clone(), &new_ident),
                    }
                }),
            None => obj
                .call(&ctx, &req.method, &req.args, kwargs)
                .map(Reply::Return),
        });
        self.to_reply(id, outcome)
    }
}
