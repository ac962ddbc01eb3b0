//! The mailbox owners' registry: one `Owner` actor per mailbox that some
//! connection watches (has selected or is IDLE on), started when the first
//! one subscribes and stopped when none has for `IDLE_STOP`.
//!
//! This is the publishing half of DESIGN.md's mailbox actors. Ordering of
//! changes is the store writer's job; what changed is read from the store
//! (MODSEQ), so a notification carries only the mailbox id and a lost or
//! late one costs nothing but latency: the session catches up at its next
//! command anyway.

use std::collections::HashMap;
use std::time::Duration;

use actix::prelude::*;

use super::owner::{Owner, Stop, Subscribe, Unsubscribe};

/// How long an owner with no subscribers lives on, so that a client that
/// re-selects a mailbox at once does not restart it.
pub const IDLE_STOP: Duration = Duration::from_secs(30);

/// Sent to a connection whose watched mailbox changed.
#[derive(Message, Clone, Copy, Debug)]
#[rtype(result = "()")]
pub struct MailboxChanged {
    pub mailbox_id: u64,
}

/// A connection now watches `mailbox_id` (its selected mailbox), or
/// nothing when `None`.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Watch {
    pub conn_id: u64,
    pub mailbox_id: Option<u64>,
    pub recipient: Recipient<MailboxChanged>,
}

/// These mailboxes changed (and the change is on disk).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct Changed {
    pub mailbox_ids: Vec<u64>,
}

/// An owner has had no subscribers for `IDLE_STOP`.
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub(super) struct OwnerIdle {
    pub mailbox_id: u64,
}

/// One per process: which owner serves which mailbox, and which mailbox
/// each connection watches (so a new `Watch` leaves the old one).
pub struct Registry {
    owners: HashMap<u64, OwnerEntry>,
    watching: HashMap<u64, u64>,
    idle_stop: Duration,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry::with_idle_stop(IDLE_STOP)
    }
}

struct OwnerEntry {
    addr: Addr<Owner>,
    subscribers: usize,
}

impl Registry {
    /// A registry whose owners stop after `idle_stop` without subscribers.
    pub fn with_idle_stop(idle_stop: Duration) -> Registry {
        Registry {
            owners: HashMap::new(),
            watching: HashMap::new(),
            idle_stop,
        }
    }
}

/// How many mailboxes have an owner now.
#[derive(Message, Debug)]
#[rtype(result = "usize")]
pub struct OpenMailboxes;

impl Handler<OpenMailboxes> for Registry {
    type Result = usize;

    fn handle(&mut self, _msg: OpenMailboxes, _ctx: &mut Context<Self>) -> usize {
        self.owners.len()
    }
}

impl Actor for Registry {
    type Context = Context<Self>;
}

impl Handler<Watch> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Watch, ctx: &mut Context<Self>) {
        if let Some(old) = self.watching.remove(&msg.conn_id)
            && let Some(entry) = self.owners.get_mut(&old)
        {
            entry.subscribers = entry.subscribers.saturating_sub(1);
            entry.addr.do_send(Unsubscribe {
                conn_id: msg.conn_id,
            });
        }
        if let Some(mailbox_id) = msg.mailbox_id {
            self.watching.insert(msg.conn_id, mailbox_id);
            let registry = ctx.address();
            let entry = self.owners.entry(mailbox_id).or_insert_with(|| OwnerEntry {
                addr: Owner::new(mailbox_id, registry, self.idle_stop).start(),
                subscribers: 0,
            });
            entry.subscribers += 1;
            entry.addr.do_send(Subscribe {
                conn_id: msg.conn_id,
                recipient: msg.recipient,
            });
        }
    }
}

impl Handler<Changed> for Registry {
    type Result = ();

    fn handle(&mut self, msg: Changed, _ctx: &mut Context<Self>) {
        // A mailbox without an owner has no subscribers: nobody to tell.
        for mailbox_id in msg.mailbox_ids {
            if let Some(entry) = self.owners.get(&mailbox_id) {
                entry.addr.do_send(super::owner::Publish);
            }
        }
    }
}

impl Handler<OwnerIdle> for Registry {
    type Result = ();

    fn handle(&mut self, msg: OwnerIdle, _ctx: &mut Context<Self>) {
        // Every subscription passes through here, so the count is exact: an
        // owner a connection subscribed to since it reported idle stays.
        if let Some(entry) = self.owners.get(&msg.mailbox_id)
            && entry.subscribers == 0
            && let Some(entry) = self.owners.remove(&msg.mailbox_id)
        {
            entry.addr.do_send(Stop);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Counts the notifications it is sent.
    struct Listener(Arc<AtomicUsize>);

    impl Actor for Listener {
        type Context = Context<Self>;
    }

    impl Handler<MailboxChanged> for Listener {
        type Result = ();
        fn handle(&mut self, _msg: MailboxChanged, _ctx: &mut Context<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    async fn settle() {
        actix_rt::time::sleep(Duration::from_millis(30)).await;
    }

    #[actix_rt::test]
    async fn owner_starts_on_watch_fans_out_and_stops_when_idle() {
        let registry = Registry::with_idle_stop(Duration::from_millis(100)).start();
        let heard = Arc::new(AtomicUsize::new(0));
        let listener = Listener(heard.clone()).start();
        assert_eq!(registry.send(OpenMailboxes).await.ok(), Some(0));

        registry.do_send(Watch {
            conn_id: 1,
            mailbox_id: Some(7),
            recipient: listener.clone().recipient(),
        });
        assert_eq!(registry.send(OpenMailboxes).await.ok(), Some(1));
        registry.do_send(Changed {
            mailbox_ids: vec![7, 8],
        });
        settle().await;
        assert_eq!(heard.load(Ordering::SeqCst), 1, "only mailbox 7 is watched");

        // Leaving the mailbox: no more news, and the owner goes when idle.
        registry.do_send(Watch {
            conn_id: 1,
            mailbox_id: None,
            recipient: listener.clone().recipient(),
        });
        registry.do_send(Changed {
            mailbox_ids: vec![7],
        });
        settle().await;
        assert_eq!(heard.load(Ordering::SeqCst), 1);
        assert_eq!(registry.send(OpenMailboxes).await.ok(), Some(1));
        actix_rt::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(registry.send(OpenMailboxes).await.ok(), Some(0));
    }

    #[actix_rt::test]
    async fn a_subscriber_back_before_the_idle_stop_keeps_its_owner() {
        let registry = Registry::with_idle_stop(Duration::from_millis(100)).start();
        let heard = Arc::new(AtomicUsize::new(0));
        let listener = Listener(heard.clone()).start();
        let watch = |mailbox_id| Watch {
            conn_id: 1,
            mailbox_id,
            recipient: listener.clone().recipient(),
        };
        registry.do_send(watch(Some(7)));
        registry.do_send(watch(None));
        settle().await;
        registry.do_send(watch(Some(7)));
        actix_rt::time::sleep(Duration::from_millis(200)).await;
        assert_eq!(registry.send(OpenMailboxes).await.ok(), Some(1));
        registry.do_send(Changed {
            mailbox_ids: vec![7],
        });
        settle().await;
        assert_eq!(heard.load(Ordering::SeqCst), 1);
    }
}
