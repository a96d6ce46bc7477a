// The Sovereign public API in one include.
#pragma once

#include "sovereign/client.hpp"
#include "sovereign/envelope.hpp"
#include "sovereign/hardening.hpp"
#include "sovereign/key_admin.hpp"
#include "sovereign/key_source.hpp"
#include "sovereign/keystore.hpp"
#include "sovereign/keystores.hpp"
#include "sovereign/mode.hpp"
#include "sovereign/remote_keystore.hpp"
#include "sovereign/secret.hpp"
#include "sovereign/status.hpp"
