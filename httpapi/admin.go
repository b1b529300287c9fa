package httpapi

import (
	"context"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"comanda/domain"
	"comanda/eventstore"
	"comanda/projections"
)

// AdminDeps are what the administration routes need.
type AdminDeps struct {
	Manager *projections.Manager
}

type adminAPI struct {
	s *Server
	d AdminDeps
}

// AdminModule serves projection operations (status, rebuild, cancel,
// verify) to admins and the event log to admins and auditors.
func AdminModule(d AdminDeps) Module {
	return func(s *Server, api *echo.Group) {
		h := &adminAPI{s: s, d: d}
		admin := api.Group("/admin")
		admin.GET("/projections", h.listProjections, requireRoles(domain.RoleAdmin, domain.RoleAuditor))
		admin.GET("/projections/:name", h.getProjection, requireRoles(domain.RoleAdmin, domain.RoleAuditor))
		admin.POST("/projections/:name/rebuild", h.rebuild, requireRoles(domain.RoleAdmin))
		admin.DELETE("/projections/:name/rebuild", h.cancelRebuild, requireRoles(domain.RoleAdmin))
		admin.POST("/projections/:name/verify", h.verify, requireRoles(domain.RoleAdmin))
		admin.GET("/events", h.events, requireRoles(domain.RoleAdmin, domain.RoleAuditor))
	}
}

// requireRoles lets through only callers with one of the roles.
func requireRoles(roles ...domain.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, err := mustPrincipal(c)
			if err != nil {
				return err
			}
			for _, r := range roles {
				if p.Role == r {
					return next(c)
				}
			}
			return domain.Errorf(domain.CodeForbidden, "your role may not use this route")
		}
	}
}

type projectionReport struct {
	projections.Status
	Rebuild *projections.Progress `json:"rebuild,omitempty"`
}

func (h *adminAPI) report(ctx context.Context, name string) (projectionReport, error) {
	p, ok := h.s.deps.Projections.Get(name)
	if !ok {
		return projectionReport{}, projections.ErrUnknownProjection
	}
	st, err := p.Status(ctx)
	if err != nil {
		return projectionReport{}, err
	}
	rep := projectionReport{Status: st}
	if r, ok := h.d.Manager.Rebuilds()[name]; ok {
		pr := r.Progress()
		rep.Rebuild = &pr
	}
	return rep, nil
}

func (h *adminAPI) listProjections(c echo.Context) error {
	out := []projectionReport{}
	for _, n := range h.s.deps.Projections.Names() {
		rep, err := h.report(c.Request().Context(), n)
		if err != nil {
			return err
		}
		out = append(out, rep)
	}
	return c.JSON(http.StatusOK, map[string]any{"items": out})
}

func (h *adminAPI) getProjection(c echo.Context) error {
	rep, err := h.report(c.Request().Context(), c.Param("name"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, rep)
}

func (h *adminAPI) rebuild(c echo.Context) error {
	r, err := h.d.Manager.Rebuild(c.Request().Context(), c.Param("name"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Location", "/v1/admin/projections/"+c.Param("name"))
	return c.JSON(http.StatusAccepted, r.Progress())
}

func (h *adminAPI) cancelRebuild(c echo.Context) error {
	if err := h.d.Manager.CancelRebuild(c.Request().Context(), c.Param("name")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *adminAPI) verify(c echo.Context) error {
	v, err := h.d.Manager.Verify(c.Request().Context(), c.Param("name"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, v)
}

type eventView struct {
	Position      int64               `json:"position"`
	EventID       string              `json:"event_id"`
	StreamID      string              `json:"stream_id"`
	StreamType    string              `json:"stream_type"`
	Version       int64               `json:"version"`
	Type          string              `json:"type"`
	SchemaVersion int                 `json:"schema_version"`
	Data          map[string]any      `json:"data"`
	Metadata      eventstore.Metadata `json:"metadata"`
	RecordedAt    string              `json:"recorded_at"`
}

func (h *adminAPI) events(c echo.Context) error {
	limit, cur, err := listParams(c)
	if err != nil {
		return err
	}
	after := int64(0)
	if raw := c.QueryParam("after_position"); raw != "" {
		if after, err = strconv.ParseInt(raw, 10, 64); err != nil || after < 0 {
			return domain.Invalid(domain.FieldError{Field: "after_position", Message: "must be a position"})
		}
	}
	if cur != nil {
		after = cur.Pos
	}
	opt := func(name string) *string {
		if v := c.QueryParam(name); v != "" {
			return &v
		}
		return nil
	}
	from, err := parseTimeParam(c, "from")
	if err != nil {
		return err
	}
	to, err := parseTimeParam(c, "to")
	if err != nil {
		return err
	}
	rows, err := h.s.deps.Pool.Query(c.Request().Context(), query("events_list"), after,
		opt("stream_id"), opt("stream_type"), opt("event_type"), opt("actor"), from, to, limit)
	if err != nil {
		return err
	}
	defer rows.Close()
	items := []eventView{}
	for rows.Next() {
		e, err := eventstore.ScanEvent(rows)
		if err != nil {
			return err
		}
		if e, err = h.s.deps.Store.Upcast(e); err != nil {
			return err
		}
		var data map[string]any
		_ = jsonUnmarshal(e.Payload, &data)
		items = append(items, eventView{Position: e.Position, EventID: e.EventID.String(),
			StreamID: e.StreamID, StreamType: e.StreamType, Version: e.Version, Type: e.Type,
			SchemaVersion: e.SchemaVersion, Data: data, Metadata: e.Metadata,
			RecordedAt: e.RecordedAt.UTC().Format(timeFormat)})
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(items, limit, func(e eventView) pageCursor {
		return pageCursor{Pos: e.Position}
	}))
}
