/*
 * hazard_flock_upgrade_ofd - hazard_flock_upgrade_nonatomic run with
 * LOCKSCOPE_FLOCK=ofd (expect/hazard_flock_upgrade_ofd.env): in fix the
 * shim turns flock into whole-file OFD locks on the program's description,
 * so the upgrade is atomic and the hazard is "prevented".
 */
#include "hazard_flock_upgrade_nonatomic.c"
