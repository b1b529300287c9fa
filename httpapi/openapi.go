package httpapi

import (
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/labstack/echo/v4"
	"go.yaml.in/yaml/v4"
)

// openapiParts holds the OpenAPI 3 document in parts, one per feature area;
// 00-base.yaml carries the info, shared components and operations routes.
//
//go:embed openapi/*.yaml
var openapiParts embed.FS

// OpenAPIYAML is the whole document, merged from its parts at start-up.
var OpenAPIYAML []byte

var (
	specOnce sync.Once
	spec     *openapi3.T
	specJSON []byte
	specErr  error
)

// Spec returns the parsed and validated OpenAPI document.
func Spec() (*openapi3.T, error) {
	specOnce.Do(func() {
		OpenAPIYAML, specErr = mergeParts(openapiParts)
		if specErr != nil {
			return
		}
		loader := openapi3.NewLoader()
		spec, specErr = loader.LoadFromData(OpenAPIYAML)
		if specErr == nil {
			specErr = spec.Validate(loader.Context)
		}
		if specErr == nil {
			specJSON, specErr = spec.MarshalJSON()
		}
	})
	return spec, specErr
}

func (s *Server) openapiYAML(c echo.Context) error {
	if _, err := Spec(); err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "application/yaml", OpenAPIYAML)
}

func (s *Server) openapiJSON(c echo.Context) error {
	if _, err := Spec(); err != nil {
		return err
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, specJSON)
}

type docOperation struct {
	Method, Path, Summary, Description, Security string
	Responses                                    []string
}

var docsPage = template.Must(template.New("docs").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{.Title}} API</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1em;color:#222}
h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
.op{border:1px solid #e3e3e3;border-radius:6px;padding:.6em 1em;margin:.8em 0}
.m{display:inline-block;min-width:4.5em;font-weight:700;font-family:monospace}
.GET{color:#0a7}.POST{color:#06c}.PATCH{color:#b70}.PUT{color:#a5c}.DELETE{color:#c33}
code{background:#f4f4f4;padding:0 .3em;border-radius:3px}.r{color:#666;font-size:13px}
</style></head><body>
<h1>{{.Title}} <small>{{.Version}}</small></h1>
<p>{{.Description}}</p>
<p>Machine-readable document: <a href="/openapi.json">/openapi.json</a> ·
<a href="/openapi.yaml">/openapi.yaml</a></p>
{{range .Groups}}<h2>{{.Name}}</h2>{{range .Ops}}
<div class="op"><span class="m {{.Method}}">{{.Method}}</span> <code>{{.Path}}</code>
<div>{{.Summary}}</div>{{if .Description}}<div class="r">{{.Description}}</div>{{end}}
<div class="r">{{if .Security}}Auth: {{.Security}} · {{end}}Responses: {{range .Responses}}{{.}} {{end}}</div>
</div>{{end}}{{end}}
</body></html>`))

type docGroup struct {
	Name string
	Ops  []docOperation
}

// docs serves a browsable, self-contained page generated from the OpenAPI
// document; it needs no internet access and no JavaScript.
func (s *Server) docs(c echo.Context) error {
	doc, err := Spec()
	if err != nil {
		return err
	}
	groups := map[string]*docGroup{}
	for _, path := range doc.Paths.InMatchingOrder() {
		item := doc.Paths.Value(path)
		for method, op := range item.Operations() {
			tag := "Other"
			if len(op.Tags) > 0 {
				tag = op.Tags[0]
			}
			g, ok := groups[tag]
			if !ok {
				g = &docGroup{Name: tag}
				groups[tag] = g
			}
			d := docOperation{Method: method, Path: path, Summary: op.Summary, Description: op.Description}
			if op.Security != nil && len(*op.Security) > 0 {
				d.Security = "bearer token"
			}
			for code := range op.Responses.Map() {
				d.Responses = append(d.Responses, code)
			}
			sort.Strings(d.Responses)
			g.Ops = append(g.Ops, d)
		}
	}
	var list []docGroup
	for _, g := range groups {
		sort.Slice(g.Ops, func(i, j int) bool {
			if g.Ops[i].Path != g.Ops[j].Path {
				return g.Ops[i].Path < g.Ops[j].Path
			}
			return g.Ops[i].Method < g.Ops[j].Method
		})
		list = append(list, *g)
	}
	sort.Slice(list, func(i, j int) bool { return strings.ToLower(list[i].Name) < strings.ToLower(list[j].Name) })
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(http.StatusOK)
	return docsPage.Execute(c.Response(), map[string]any{
		"Title": doc.Info.Title, "Version": doc.Info.Version, "Description": doc.Info.Description,
		"Groups": list,
	})
}

// mergeParts joins the document's parts: the first part is the base, and
// every later part adds paths, tags and components.
func mergeParts(parts fs.FS) ([]byte, error) {
	names, err := fs.Glob(parts, "openapi/*.yaml")
	if err != nil || len(names) == 0 {
		return nil, fmt.Errorf("find OpenAPI parts: %w", err)
	}
	sort.Strings(names)
	var doc map[string]any
	for i, name := range names {
		raw, err := fs.ReadFile(parts, name)
		if err != nil {
			return nil, err
		}
		var part map[string]any
		if err := yaml.Unmarshal(raw, &part); err != nil {
			return nil, fmt.Errorf("parse %s: %w", name, err)
		}
		if i == 0 {
			doc = part
			continue
		}
		if err := mergeInto(doc, part, name); err != nil {
			return nil, err
		}
	}
	return yaml.Marshal(doc)
}

func mergeInto(dst, src map[string]any, where string) error {
	for k, v := range src {
		existing, ok := dst[k]
		if !ok {
			dst[k] = v
			continue
		}
		dm, dok := existing.(map[string]any)
		sm, sok := v.(map[string]any)
		if dok && sok {
			if err := mergeInto(dm, sm, where+"/"+k); err != nil {
				return err
			}
			continue
		}
		return fmt.Errorf("OpenAPI part %s defines %s twice", where, k)
	}
	return nil
}
