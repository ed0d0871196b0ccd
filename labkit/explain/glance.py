"""Glance's errors: the known failures of the image layer.

Patterns match the error text (what openstacksdk raised, what the CLI printed, or a line of
glance-api's log).

Introduced in notebooks/03-glance.
"""

from __future__ import annotations

from labkit.explain import pattern_entries

# (name, pattern over the error text or glance-api log, layer, title, cause, fix), most
# specific first.
_KNOWN = (
    (
        "glance.region-name",
        r"EndpointNotFound: (?P<interface>\w+) endpoint for identity service in "
        r"(?P<region>\S+) region not found",
        "glance",
        "Glance cannot find Keystone in its configured region",
        "glance-api.conf [keystone_authtoken] region_name = {region} names no region that has "
        "identity endpoints. Debian ships regionOne (lower-case r) while the Install Guide "
        "bootstraps RegionOne, so every authenticated request answers HTTP 500.",
        "Set [keystone_authtoken] region_name to the region `openstack region list` shows "
        "(crudini --set /etc/glance/glance-api.conf keystone_authtoken region_name RegionOne) "
        "and restart glance-api; labkit's glance plan does this for you.",
    ),
    (
        "glance.keystone-unavailable",
        r"The Keystone service is temporarily unavailable",
        "glance",
        "Glance could not log in to Keystone as its service user",
        "Glance's auth middleware logs in with [keystone_authtoken] username/password before "
        "it checks tokens: a wrong GLANCE_PASS, a glance user without the admin role on the "
        "service project, or an auth_url that does not answer gives 503.",
        "Compare [keystone_authtoken] in glance-api.conf with `openstack user show glance` and "
        "`openstack role assignment list --user glance --names`; fix, restart glance-api.",
    ),
    (
        "glance.not-running",
        r"glance-api is not running on (?P<host>[\w-]+)",
        "glance",
        "Glance is not installed or not started yet",
        "Requests under /image get 503 until glance-api has been installed and started on {host}.",
        "lab.ensure('glance') (or notebook 03's install cells); `labkit install sim glance` "
        "from a terminal.",
    ),
    (
        "glance.publicize",
        r"not authorized to complete publicize_image action",
        "glance",
        "Only an admin can make an image public",
        "Glance's policy publicize_image is role:admin: a member may create private, shared "
        "or community images, not public ones.",
        "Drop --public (use --private, --shared or --community), or create it as admin.",
    ),
    (
        "glance.forbidden",
        r"Client Error for url: \S*/v2/images\S*, Forbidden\s*$",
        "glance",
        "Glance's policy refused this request",
        "Glance answered 403 without naming the rule. For a member the usual ones are "
        "publicize_image (only an admin may make an image public) and changes to an image "
        "its project does not own.",
        "Make it --private, --shared or --community instead of --public, or act as the "
        "image's owner (or admin): `openstack image show IMAGE -c owner -c visibility`.",
    ),
    (
        "glance.not-owner",
        r"You do not own this image",
        "glance",
        "Only the owning project (or an admin) can change this image",
        "You can see the image (public, community or shared with you) but changing it, "
        "uploading to it, deleting or deactivating it needs its owner project.",
        "Ask the owner, or use a token scoped to the owning project (`openstack image show "
        "IMAGE -c owner`).",
    ),
    (
        "glance.status-transition",
        r"Image status transition from (?P<current>\w+) to (?P<new>\w+) is not allowed",
        "glance",
        "The image is not in a status that allows this",
        "Glance's status machine does not go from {current} to {new}: image data can be "
        "uploaded only once, to a queued image.",
        "Create a new image for new data (`openstack image create ... --file F`); an image "
        "in saving/importing is still receiving its data -- wait for active.",
    ),
    (
        "glance.import-filter",
        r"URI for web-download does not pass filtering: (?P<uri>\S+)",
        "glance",
        "Glance refuses to download from that URL",
        "web-download only fetches http/https URLs on ports 80 and 443 unless "
        "[import_filtering_opts] in glance-api.conf allows more ({uri}).",
        "Use a URL on port 80/443, or add the port to [import_filtering_opts] allowed_ports "
        "and restart glance-api (the lab does it for its own mirror).",
    ),
    (
        "glance.import-needs-queued",
        r"Image needs to be in 'queued' state to use "
        r"'(?P<method>[\w-]+)' method|can only be used with an image in status 'queued'",
        "glance",
        "Import goes into a new, empty image",
        "web-download needs an image in status queued: this one already has data, or an "
        "import is running.",
        "Create a fresh image (`openstack image create --disk-format qcow2 "
        "--container-format bare NAME`) and import into that.",
    ),
    (
        "glance.import-failed",
        r"Task failed due to Internal Error|os_glance_failed_import",
        "glance",
        "The background import failed",
        "The import task could not finish -- most often the URL did not answer (a typo, a "
        "404, no route to the host); Glance put the image back to queued and listed the "
        "store in os_glance_failed_import.",
        "Fetch the URL yourself (`curl -I URL`), fix it, and import again into the same "
        "queued image; glance-api's log names the exact error.",
    ),
    (
        "glance.quota",
        r"is over a limit for \[Resource (?P<resource>\w+) is over limit of "
        r"(?P<limit>\d+)",
        "glance",
        "The project is at its image quota",
        "Unified limits: {resource} is limited to {limit} for this project.",
        "Delete images you no longer need, or raise the limit (the sim: [labkit_limits] in "
        "glance-api.conf; a real cloud: `openstack limit create`/`registered limit`).",
    ),
    (
        "glance.protected",
        r"is protected and cannot be deleted",
        "glance",
        "The image is protected",
        "protected=True stops deletion (by anyone, admins included).",
        "`openstack image set --unprotected IMAGE`, then delete it.",
    ),
    (
        "glance.too-large",
        r"The incoming image is too large",
        "glance",
        "The upload is larger than Glance accepts",
        "[DEFAULT] image_size_cap in glance-api.conf limits one image's size.",
        "Raise image_size_cap (bytes) and restart glance-api, or upload a smaller image.",
    ),
    (
        "glance.bad-format",
        r"does not match schema 'image': '(?P<value>[^']*)' is not one of",
        "glance",
        "Unknown disk or container format",
        "Glance only accepts the formats it knows; '{value}' is not one of them.",
        "Use --disk-format qcow2 (or raw, vmdk, iso ...) and --container-format bare.",
    ),
    (
        "glance.not-found",
        r"No image found with ID (?P<image>\S+)",
        "glance",
        "No such image -- or not one you may see",
        "Glance answers 404 both for ids that do not exist and for images of other projects "
        "that are private (or shared with someone else).",
        "`openstack image list` shows what your project sees; an admin can check the owner.",
    ),
    (
        "glance.copy-from",
        r"--copy-from was given, which is an Image v1 option",
        "glance",
        "--copy-from is gone with the v1 Image API",
        "The seed talk's `image create --copy-from URL` is Image API v1; v2 replaced it with "
        "interoperable import.",
        "`openstack image create --disk-format qcow2 --container-format bare NAME` then "
        "`openstack image import --method web-download --uri URL NAME`.",
    ),
)

ENTRIES = pattern_entries(_KNOWN)
