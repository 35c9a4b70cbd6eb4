//! `e:S:P:D` (extension, sent only by our clients): the player's NAT descriptor. Checked like a
//! ping (only the player's own address counts) and refreshes the player like one; answered `n:`
//! with the descriptors of every player that sent one. A new or changed descriptor also goes to the
//! other players that sent one. Players that never send `e:` (the Godot plugin) never get `n:`.

use super::shared::own_player;
use super::Cx;
use crate::compact::NatDesc;
use crate::store::SessionStore;
use std::net::SocketAddr;
use std::time::Instant;

impl<S: SessionStore> Cx<'_, S> {
    pub(crate) fn on_ext(&mut self, now: Instant, from: SocketAddr, name: &str, player: &str, nat: &str) {
        let Some((index, session)) = own_player(self.lobby, self.out, now, from, name, player) else {
            return;
        };
        let open = session.is_open();
        let p = &mut session.players[index];
        let changed = p.nat.as_deref().is_none_or(|d| d.as_str() != nat);
        if changed {
            p.nat = Some(Box::new(NatDesc::new(nat)));
        }
        if !open {
            // Like a ping in a starting session: its start message again (with `n:` before it).
            session.seen(index, now);
            return self.resend_start(now, name, index);
        }
        session.seen(index, now);
        self.out.nat(now, session, index);
        if changed {
            for other in 0..session.players.len() {
                if other != index {
                    self.out.nat(now, session, other);
                }
            }
        }
    }
}
