#ifndef MTAGUARD_CAUGEAS_SHIM_H
#define MTAGUARD_CAUGEAS_SHIM_H

/* augeas.h includes <libxml/tree.h>, which drags the system ICU headers into
 * every module that also imports Foundation and clashes with Foundation's own
 * copy ("'UErrorCode' has different definitions in different modules").
 * Pretend libxml's tree header is already included and declare the one type
 * augeas.h needs; aug_to_xml is unusable as a result, and unused. */
#define __XML_TREE_H__
struct _xmlNode;
typedef struct _xmlNode xmlNode;
typedef xmlNode *xmlNodePtr;

#include <augeas.h>

#endif
